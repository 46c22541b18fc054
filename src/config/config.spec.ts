import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig, testConfig } from "./config";

describe("loadConfig", () => {
  it("has documented defaults", () => {
    const c = loadConfig({});
    expect(c.http.port).toBe(4000);
    expect(c.db.url).toBe("postgres://postgres@127.0.0.1:5432/switchboard");
    expect(c.redis.url).toBe("redis://127.0.0.1:6379");
    expect(c.http.introspection).toBe(true);
    expect(c.files.store).toBe("postgres");
    expect(c.http.publicUrl).toBe("http://localhost:4000");
  });

  it("is frozen", () => {
    const c = loadConfig({});
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.worker)).toBe(true);
  });

  it("turns introspection off in production unless overridden", () => {
    expect(loadConfig({ NODE_ENV: "production" }).http.introspection).toBe(false);
    expect(loadConfig({ NODE_ENV: "production", GRAPHQL_INTROSPECTION: "true" }).http.introspection).toBe(true);
  });

  it("lists every malformed variable at once", () => {
    try {
      loadConfig({ PORT: "http", DATABASE_URL: "mysql://x", WORKER_CONCURRENCY: "0", GRAPHQL_INTROSPECTION: "maybe", BLOB_STORE: "disk" });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const msg = (err as Error).message;
      for (const v of ["PORT", "DATABASE_URL", "WORKER_CONCURRENCY", "GRAPHQL_INTROSPECTION", "BLOB_STORE"]) expect(msg).toContain(v);
    }
  });

  it("parses lists and numbers", () => {
    const c = loadConfig({ CORS_ORIGINS: "https://a.example, https://b.example", PORT: "8080", DELTA_COALESCE_MS: "25" });
    expect(c.http.corsOrigins).toEqual(["https://a.example", "https://b.example"]);
    expect(c.http.port).toBe(8080);
    expect(c.worker.deltaCoalesceMs).toBe(25);
  });

  it("reads per-provider and per-modality timeouts; an empty one is unset, like every other variable", () => {
    const c = loadConfig({ PROVIDER_TIMEOUT_MS: "5000", OPENAI_TIMEOUT_MS: "700", PROVIDER_TIMEOUT_IMAGE_MS: "900", GROQ_TIMEOUT_TEXT_MS: "300", ANTHROPIC_TIMEOUT_MS: "", WEBHOOK_TIMEOUT_MS: "1000" });
    expect(c.worker.providerTimeoutMs).toBe(5000);
    // anthropic is absent, so its calls fall back to PROVIDER_TIMEOUT_MS (once it was 120000, a second copy of its default)
    expect(c.worker.timeouts).toEqual({ openai: 700, IMAGE: 900, "groq:TEXT": 300 });
    expect(() => loadConfig({ OPENAI_TIMEOUT_MS: "5" })).toThrow(/OPENAI_TIMEOUT_MS must be an integer between 10 and/);
  });

  it("testConfig merges overrides deeply", () => {
    const c = testConfig({ worker: { concurrency: 3 } });
    expect(c.worker.concurrency).toBe(3);
    expect(c.worker.attempts).toBe(3);
    expect(c.env).toBe("test");
  });
});
