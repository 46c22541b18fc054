import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "./config";

describe("analytics config", () => {
  it("defaults: analytics reads the primary, 48 h of raw rows, rollups every 5 minutes", () => {
    const c = loadConfig({});
    expect(c.db.readUrl).toBeUndefined();
    expect(c.analytics).toEqual({ rawMaxHours: 48, rollupIntervalMs: 300_000 });
  });

  it("reads DATABASE_READ_URL, ANALYTICS_RAW_MAX_HOURS and ANALYTICS_ROLLUP_INTERVAL_MS", () => {
    const c = loadConfig({ DATABASE_READ_URL: "postgres://replica:5432/switchboard", ANALYTICS_RAW_MAX_HOURS: "24", ANALYTICS_ROLLUP_INTERVAL_MS: "0" });
    expect(c.db.readUrl).toBe("postgres://replica:5432/switchboard");
    expect(c.analytics).toEqual({ rawMaxHours: 24, rollupIntervalMs: 0 });
    // DATABASE_READ_URL is not mistaken for a provider's key or base URL
    expect(Object.keys(c.providers.vendors)).not.toContain("database-read");
  });

  it("refuses a malformed read URL and a zero raw window", () => {
    expect(() => loadConfig({ DATABASE_READ_URL: "mysql://x/y" })).toThrow(ConfigError);
    expect(() => loadConfig({ ANALYTICS_RAW_MAX_HOURS: "0" })).toThrow(/ANALYTICS_RAW_MAX_HOURS/);
  });
});
