/**
 * Metrics added for "seeing everything" move with real traffic; the `health` query; HTTP
 * request logs carry the request id and the generation they touched.
 */
import { Writable } from "node:stream";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../helpers/test-app";

const base = (t: TestApp) => t.url.replace("/graphql", "");
const scrape = async (t: TestApp) => (await fetch(`${base(t)}/metrics`)).text();

function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  const sel = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const line = text.split("\n").find((l) => (l.startsWith(`${name}{`) || l.startsWith(`${name} `)) && sel.every((s) => l.includes(s)));
  return line ? Number(line.split(" ").at(-1)) : Number.NaN;
}

const CREATE = `mutation Create($input: CreateGenerationInput!) { createGeneration(input: $input) { id status costUsd } }`;
const text = (prompt: string, simulate: Record<string, unknown> = {}) => ({ modality: "TEXT", model: "simulated/text", prompt, params: { simulate }, wait: 20 });

describe("metrics, health and request logs", () => {
  let t: TestApp;
  const lines: Record<string, any>[] = [];
  beforeAll(async () => {
    const sink = new Writable({
      write(chunk, _enc, cb) {
        for (const l of chunk.toString().split("\n").filter(Boolean)) lines.push(JSON.parse(l));
        cb();
      },
    });
    t = await startTestApp(
      {
        // A keyed provider whose pool the gauges describe; it is never called (loopback, no probes).
        providers: { healthIntervalMs: 0, vendors: { openai: { baseUrl: "http://127.0.0.1:9/v1", keys: [{ label: "env-1", key: "sk-test-aaaa1111" }, { label: "env-2", key: "sk-test-bbbb2222" }] } } },
        monitoring: { anomaly: { intervalMs: 0 } },
      },
      { logger: pino({ level: "info", base: { service: "switchboard" } }, sink) },
    );
  });
  afterAll(async () => {
    await t?.close();
  });

  it("cost, retries and key pool gauges move with traffic; circuit and webhook metrics are defined", async () => {
    const before = await scrape(t);
    expect(Number.isNaN(metricValue(before, "switchboard_cost_usd_total", { provider: "simulated" }))).toBe(true);

    const ok = await t.gql(t.adminKey, CREATE, { input: text("what does it cost?") });
    expect(ok.data?.createGeneration.status).toBe("SUCCEEDED");
    expect(ok.data!.createGeneration.costUsd).toBeGreaterThan(0);
    const failed = await t.gql(t.adminKey, CREATE, { input: text("always down", { failWith: "unavailable" }) });
    expect(failed.data?.createGeneration.status).toBe("FAILED");

    const after = await scrape(t);
    const cost = metricValue(after, "switchboard_cost_usd_total", { provider: "simulated", model: "simulated/text" });
    expect(cost).toBeCloseTo(ok.data!.createGeneration.costUsd, 9);
    // JOB_ATTEMPTS 3: two RETRYING transitions, then FAILED
    expect(metricValue(after, "switchboard_upstream_retries_total", { provider: "simulated", error_kind: "unavailable", action: "retry" })).toBe(2);
    expect(metricValue(after, "switchboard_upstream_attempts_total", { provider: "simulated", outcome: "unavailable" })).toBe(3);
    expect(metricValue(after, "switchboard_generations_total", { provider: "simulated", status: "FAILED", cached: "false" })).toBe(1);

    expect(metricValue(after, "switchboard_provider_key_state", { provider: "openai", label: "env-1" })).toBe(0);
    expect(metricValue(after, "switchboard_provider_key_health", { provider: "openai", label: "env-2" })).toBe(1);
    expect(metricValue(after, "switchboard_provider_key_in_flight", { provider: "openai", label: "env-1" })).toBe(0);
    await t.gql(t.adminKey, `mutation { disableProviderKey(provider: "openai", label: "env-2") { id } }`);
    expect(metricValue(await scrape(t), "switchboard_provider_key_state", { provider: "openai", label: "env-2" })).toBe(2);

    for (const name of ["switchboard_circuit_state", "switchboard_webhook_deliveries_total", "switchboard_alerts_total", "switchboard_cache_lookups_total"])
      expect(after).toContain(`# TYPE ${name} `);
  });

  it("health: dependencies, queue and providers for everyone; key pools and error text for admins", async () => {
    const Q = `{ health { status checkedAt postgres { ok latencyMs message } redis { ok latencyMs message } queue { waiting active delayed }
      providers { id name status message keyPool { total active coolingDown disabled inFlight health keys { label last4 state } } } } }`;
    const admin = await t.gql(t.adminKey, Q);
    expect(admin.errors).toBeUndefined();
    const h = admin.data!.health;
    expect(h.postgres.ok && h.redis.ok).toBe(true);
    expect(h.postgres.latencyMs).toBeGreaterThanOrEqual(0);
    expect(h.queue).toEqual({ waiting: expect.any(Number), active: expect.any(Number), delayed: expect.any(Number) });
    const openai = h.providers.find((p: { id: string }) => p.id === "openai");
    expect(openai.status).toBe("UNKNOWN"); // never probed (PROVIDER_HEALTH_INTERVAL_MS=0)
    expect(openai.keyPool).toMatchObject({ total: 2, active: 1, disabled: 1, inFlight: 0, health: 1 });
    expect(openai.keyPool.keys.map((k: { last4: string }) => k.last4).sort()).toEqual(["1111", "2222"]);
    expect(h.providers.find((p: { id: string }) => p.id === "simulated")).toMatchObject({ status: "UP", keyPool: null });
    expect(h.status).toBe("OK");

    const user = await t.createUser();
    const mine = await t.gql(user.key, Q);
    expect(mine.errors).toBeUndefined();
    expect(mine.data!.health.status).toBe("OK");
    for (const p of mine.data!.health.providers) expect(p).toMatchObject({ keyPool: null, message: null });
    expect(mine.data!.health.providers.map((p: { id: string }) => p.id)).toEqual(h.providers.map((p: { id: string }) => p.id));

    expect((await t.gql(null, Q)).errors?.[0].extensions?.code).toBe("UNAUTHENTICATED");
  });

  it("every request is logged once, with the request id it answered with and the generation it touched", async () => {
    const res = await fetch(t.url, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${t.adminKey}`, "x-request-id": "req-from-client-42" },
      body: JSON.stringify({ query: CREATE, variables: { input: text("log me") } }),
    });
    expect(res.headers.get("x-request-id")).toBe("req-from-client-42");
    const id = ((await res.json()) as { data: { createGeneration: { id: string } } }).data.createGeneration.id;
    const fresh = await fetch(t.url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query: "{ __typename }" }) });
    const freshId = fresh.headers.get("x-request-id");
    expect(freshId).toMatch(/^[0-9a-f-]{36}$/);
    await fetch(`${base(t)}/healthz`);

    // One line per request when it completes: "<type> <operation> <outcome> (<status>) in <n> ms", with those fields.
    const done = lines.filter((l) => typeof l.msg === "string" && / in \d+ ms$/.test(l.msg) && l.res?.statusCode);
    const mine = done.filter((l) => l.requestId === "req-from-client-42");
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ level: 30, generationId: id, outcome: "ok", operationType: "mutation", req: { method: "POST", path: "/graphql" }, res: { statusCode: 200 } });
    expect(mine[0].durationMs).toBeGreaterThanOrEqual(0);
    expect(mine[0].req.headers).toBeUndefined(); // never the Authorization header
    expect(done.find((l) => l.requestId === freshId)).toBeDefined();
    expect(done.some((l) => l.req?.path === "/healthz")).toBe(false); // probes are not logged
    // every line logged about this request carries its id
    for (const l of lines.filter((x) => x.generationId === id && x.requestId)) expect(l.requestId).toBe("req-from-client-42");
  });
});
