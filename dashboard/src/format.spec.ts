import { describe, expect, it } from "vitest";
import { cancellable, cooldownLeft, latencyMs, ms, pct, quotaBar, relative, usd } from "./format";

describe("dashboard formatting", () => {
  it("usd: exact zero, sub-cent precision, trailing zeros dropped, null as a dash", () => {
    expect(usd(0)).toBe("$0");
    expect(usd(0.000123)).toBe("$0.000123");
    expect(usd(0.05)).toBe("$0.05");
    expect(usd(1.5)).toBe("$1.5");
    expect(usd(123.456)).toBe("$123.46");
    expect(usd(-2)).toBe("-$2");
    expect(usd(null)).toBe("—");
    expect(usd(Number.NaN)).toBe("—");
  });

  it("ms: milliseconds, seconds, minutes", () => {
    expect(ms(12.4)).toBe("12 ms");
    expect(ms(1234)).toBe("1.23 s");
    expect(ms(15_000)).toBe("15.0 s");
    expect(ms(125_000)).toBe("2 min 5 s");
    expect(ms(undefined)).toBe("—");
  });

  it("latency is completed − started, from created for a cache hit, null while running", () => {
    expect(latencyMs({ createdAt: "2026-01-01T00:00:00Z", startedAt: "2026-01-01T00:00:01Z", completedAt: "2026-01-01T00:00:03.5Z" })).toBe(2500);
    expect(latencyMs({ createdAt: "2026-01-01T00:00:00Z", startedAt: null, completedAt: "2026-01-01T00:00:00.020Z" })).toBe(20);
    expect(latencyMs({ createdAt: "2026-01-01T00:00:00Z", startedAt: "2026-01-01T00:00:01Z", completedAt: null })).toBeNull();
  });

  it("relative times both ways", () => {
    const now = Date.parse("2026-01-01T12:00:00Z");
    expect(relative("2026-01-01T11:59:30Z", now)).toBe("30 s ago");
    expect(relative("2026-01-01T12:05:00Z", now)).toBe("in 5 min");
    expect(relative("2025-12-30T12:00:00Z", now)).toBe("2 d ago");
    expect(relative(null, now)).toBe("—");
  });

  it("pct and cancellable", () => {
    expect(pct(0.5)).toBe("50%");
    expect(pct(0.012)).toBe("1.2%");
    expect(pct(0)).toBe("0%");
    expect(["QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"].filter(cancellable)).toEqual(["QUEUED", "RUNNING"]);
  });

  it("quota bar: shares clamped, reserved never past the end, warning at spent + reserved ≥ ratio", () => {
    const b = quotaBar({ limitUsd: 10, spentUsd: 5, reservedUsd: 3, remainingUsd: 2 }, 0.8);
    expect(b).toMatchObject({ spent: 0.5, reserved: 0.3, warnAt: 0.8, warning: true, exhausted: false });
    expect(b.used).toBeCloseTo(0.8, 10);
    expect(quotaBar({ limitUsd: 10, spentUsd: 5, reservedUsd: 2.9, remainingUsd: 2.1 }, 0.8).warning).toBe(false);
    const over = quotaBar({ limitUsd: 10, spentUsd: 9, reservedUsd: 5, remainingUsd: 0 }, 0.8);
    expect(over.spent + over.reserved).toBeLessThanOrEqual(1);
    expect(over.exhausted).toBe(true);
    expect(quotaBar({ limitUsd: 0, spentUsd: 0, reservedUsd: 0, remainingUsd: 0 }, null)).toMatchObject({ spent: 0, reserved: 0, warning: false });
  });

  it("cooldown left rounds up and is never negative", () => {
    const now = Date.parse("2026-01-01T12:00:00Z");
    expect(cooldownLeft("2026-01-01T12:00:01.200Z", now)).toBe(2);
    expect(cooldownLeft("2026-01-01T11:00:00Z", now)).toBe(0);
    expect(cooldownLeft(null, now)).toBe(0);
  });
});
