/**
 * Fault injection against circuit breakers shared by every worker: two independent simulated
 * providers ("simulated" and "simulated-b"), provider-wide faults injected through the admin
 * API (setSimulatedFaults), and a subscriber watching circuitStateChanged.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { collect, startTestApp, type TestApp } from "../helpers/test-app";

const CREATE = `mutation($input: CreateGenerationInput!) {
  createGeneration(input: $input) { id status provider { id } error { code message } attempts { provider status errorKind } }
}`;
const FAULT = `mutation($p: ID!, $r: Float!, $w: String!, $l: Int!, $ra: Int) { setSimulatedFaults(provider: $p, failRate: $r, failWith: $w, latencyMs: $l, retryAfterSeconds: $ra) }`;
const CIRCUITS = `{ providers { id circuits { provider state consecutiveFailures windowCalls windowFailures nextProbeAt forced } } }`;

describe("circuit breakers under injected faults", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({
      providers: { simulatedExtra: ["simulated-b"] },
      resilience: { failureThreshold: 3, minCalls: 10, failureRate: 0.5, resetMs: 2_500, windowMs: 10_000 }, // resetMs well above one generation on a loaded machine (each test relies on OPEN lasting that long)
      // Per-attempt timeouts by provider (and modality): 300 ms for the simulated ones, 10 s elsewhere.
      worker: { providerTimeoutMs: 10_000, timeouts: { "simulated:TEXT": 300, "simulated-b": 300 }, attempts: 2 },
    });
  });
  afterAll(() => t?.close());
  afterEach(async () => {
    for (const p of ["simulated", "simulated-b"]) {
      await t.gql(t.adminKey, FAULT, { p, r: 0, w: "unavailable", l: 0 });
      await t.gql(t.adminKey, `mutation($p: ID!) { resetCircuit(provider: $p) { state } }`, { p });
    }
  });

  const fault = async (p: string, r: number, w = "unavailable", l = 0, ra?: number) => {
    const res = await t.gql(t.adminKey, FAULT, { p, r, w, l, ra });
    expect(res.errors).toBeUndefined();
  };
  const gen = async (extra: Record<string, unknown> = {}, prompt = `p-${Math.random()}`) => {
    const res = await t.gql(t.adminKey, CREATE, {
      input: { modality: "TEXT", model: "simulated/text", fallbackModels: ["simulated-b/text"], prompt, wait: 20, ...extra },
    });
    expect(res.errors).toBeUndefined();
    return res.data!.createGeneration;
  };
  const circuit = async (p: string) => {
    const res = await t.gql(t.adminKey, CIRCUITS);
    return res.data!.providers.find((x: any) => x.id === p).circuits[0];
  };

  it("529 overloaded on the primary with a healthy secondary: every generation succeeds on the secondary and the breaker opens after the threshold, then skips the primary without a call", async () => {
    const sub = collect(t.wsClient(t.adminKey), `subscription { circuitStateChanged(provider: "simulated") { provider from to reason consecutiveFailures nextProbeAt } }`, {}, (e: any) => e.to === "OPEN", 15_000);
    await new Promise((r) => setTimeout(r, 200)); // graphql-ws has no subscribe ack
    await fault("simulated", 1, "overloaded");
    const results = [];
    for (let i = 0; i < 6; i++) results.push(await gen());
    expect(results.every((g) => g.status === "SUCCEEDED" && g.provider.id === "simulated-b")).toBe(true);
    const events = await sub.done;
    expect(events.at(-1)).toMatchObject({ provider: "simulated", from: "CLOSED", to: "OPEN", consecutiveFailures: 3 });
    expect(events.at(-1).reason).toMatch(/3 consecutive failures/);
    // The first 3 tried the primary; once OPEN it is skipped without an upstream call: one attempt, on the secondary.
    expect(results.slice(0, 3).every((g) => g.attempts[0].status === "FAILED" && g.attempts[0].errorKind === "unavailable")).toBe(true);
    expect(results.slice(3).every((g) => g.attempts.length === 1 && g.attempts[0].provider === "simulated-b" && g.attempts[0].status === "SUCCEEDED")).toBe(true);
    const c = await circuit("simulated");
    expect(c.state).toBe("OPEN");
    expect(new Date(c.nextProbeAt).getTime()).toBeGreaterThan(Date.now() - 1000);
    const stored = await t.app.ds.query(`SELECT from_state, to_state FROM circuit_events WHERE provider = 'simulated' ORDER BY id`);
    expect(stored.at(-1)).toMatchObject({ from_state: "CLOSED", to_state: "OPEN" });
    const metrics = await (await fetch(`http://127.0.0.1:${t.port}/metrics`)).text();
    expect(metrics).toMatch(/switchboard_circuit_state\{provider="simulated"\} 2/);
    expect(metrics).toMatch(/switchboard_upstream_retries_total\{provider="simulated",error_kind="unavailable",action="fallback"\} [1-9]/);
  });

  it("recovers by itself when the fault ends: OPEN → HALF_OPEN (probe) → CLOSED, and a subscriber sees every transition", async () => {
    await fault("simulated", 1, "unavailable");
    for (let i = 0; i < 3; i++) await gen();
    expect((await circuit("simulated")).state).toBe("OPEN");
    const sub = collect(t.wsClient(t.adminKey), `subscription { circuitStateChanged(provider: "simulated") { from to reason } }`, {}, (e: any) => e.to === "CLOSED", 15_000);
    await new Promise((r) => setTimeout(r, 200));
    await fault("simulated", 0);
    await new Promise((r) => setTimeout(r, 2_600)); // past resetMs
    const g = await gen();
    expect(g).toMatchObject({ status: "SUCCEEDED", provider: { id: "simulated" } });
    const events = await sub.done;
    expect(events.map((e: any) => `${e.from}>${e.to}`)).toEqual(["OPEN>HALF_OPEN", "HALF_OPEN>CLOSED"]);
    expect((await circuit("simulated")).state).toBe("CLOSED");
  });

  it("a failed probe reopens the circuit for another reset period", async () => {
    await fault("simulated", 1, "unavailable");
    for (let i = 0; i < 3; i++) await gen();
    await new Promise((r) => setTimeout(r, 2_600));
    const g = await gen(); // the probe fails, the secondary serves
    expect(g.provider.id).toBe("simulated-b");
    const c = await circuit("simulated");
    expect(c.state).toBe("OPEN");
    const stored = await t.app.ds.query(`SELECT from_state || '>' || to_state AS t FROM circuit_events WHERE provider = 'simulated' ORDER BY id DESC LIMIT 2`);
    expect(stored.map((r: any) => r.t)).toEqual(["HALF_OPEN>OPEN", "OPEN>HALF_OPEN"]);
  });

  it("a provider failing 50% with 503: every generation still succeeds (fallback), and the failure-rate policy can open it", async () => {
    await fault("simulated", 0.5, "unavailable");
    const results = await Promise.all(Array.from({ length: 20 }, () => gen()));
    expect(results.filter((g) => g.status === "SUCCEEDED")).toHaveLength(20);
  });

  it("a timing-out provider falls back within the attempt timeout, and timeouts count as failures", async () => {
    await fault("simulated", 1, "timeout");
    const t0 = Date.now();
    const g = await gen();
    expect(g).toMatchObject({ status: "SUCCEEDED", provider: { id: "simulated-b" } });
    expect(g.attempts[0]).toMatchObject({ status: "FAILED", errorKind: "timeout" });
    expect(Date.now() - t0).toBeLessThan(3000);
    expect((await circuit("simulated")).consecutiveFailures).toBe(1);
  });

  it("a 429 storm cools the key, not the circuit: rate limits are not provider failures", async () => {
    await fault("simulated", 1, "rate_limited", 0, 1);
    for (let i = 0; i < 4; i++) expect((await gen()).provider.id).toBe("simulated-b");
    const c = await circuit("simulated");
    expect(c.state).toBe("CLOSED");
    expect(c.windowFailures).toBe(0);
  });

  it("hard down everywhere: FAIL answers SERVICE_UNAVAILABLE at once; WAIT waits for the probe and then succeeds; it never hangs", async () => {
    await fault("simulated", 1, "unavailable");
    await fault("simulated-b", 1, "unavailable");
    for (let i = 0; i < 3; i++) await gen();
    expect((await circuit("simulated")).state).toBe("OPEN");
    expect((await circuit("simulated-b")).state).toBe("OPEN");
    const t0 = Date.now();
    const failed = await gen({ whenUnavailable: "FAIL" });
    expect(failed.status).toBe("FAILED");
    expect(failed.error.code).toBe("SERVICE_UNAVAILABLE");
    expect(failed.attempts.every((a: any) => a.status === "SKIPPED")).toBe(true);
    expect(Date.now() - t0).toBeLessThan(1000);
    // WAIT: the job sits in delayed until the earliest probe; the fault ends meanwhile.
    const queued = await t.gql(t.adminKey, CREATE, { input: { modality: "TEXT", model: "simulated/text", fallbackModels: ["simulated-b/text"], prompt: "wait for me", wait: 0 } });
    const id = queued.data!.createGeneration.id;
    await fault("simulated", 0);
    await fault("simulated-b", 0);
    const done = await t.gql(t.adminKey, `query($id: ID!) { generation(id: $id) { status } }`, { id });
    expect(["QUEUED", "RUNNING", "SUCCEEDED"]).toContain(done.data!.generation.status);
    const deadline = Date.now() + 10_000;
    let status = "";
    while (Date.now() < deadline && status !== "SUCCEEDED") {
      await new Promise((r) => setTimeout(r, 100));
      status = (await t.gql(t.adminKey, `query($id: ID!) { generation(id: $id) { status } }`, { id })).data!.generation.status;
    }
    expect(status).toBe("SUCCEEDED");
  });

  it("admins can force a circuit open and reset it; others cannot", async () => {
    const user = await t.createUser("circuit-user@example.com");
    const denied = await t.gql(user.key, `mutation { forceOpenCircuit(provider: "simulated") { state } }`);
    expect(denied.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    const open = await t.gql(t.adminKey, `mutation { forceOpenCircuit(provider: "simulated") { state forced } }`);
    expect(open.data!.forceOpenCircuit).toEqual({ state: "OPEN", forced: true });
    await new Promise((r) => setTimeout(r, 2_600)); // forced: no automatic probe even after resetMs
    const g = await gen();
    expect(g.provider.id).toBe("simulated-b");
    expect(g.attempts).toMatchObject([{ provider: "simulated-b", status: "SUCCEEDED" }]);
    const reset = await t.gql(t.adminKey, `mutation { resetCircuit(provider: "simulated") { state forced consecutiveFailures } }`);
    expect(reset.data!.resetCircuit).toEqual({ state: "CLOSED", forced: false, consecutiveFailures: 0 });
    expect((await gen()).provider.id).toBe("simulated");
    const bad = await t.gql(t.adminKey, `mutation { forceOpenCircuit(provider: "nope") { state } }`);
    expect(bad.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
    const real = await t.gql(t.adminKey, `mutation { setSimulatedFaults(provider: "openai", failRate: 1) }`);
    expect(real.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
  });
});

describe("per-model circuit breakers (CIRCUIT_PER_MODEL)", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ providers: { simulatedExtra: ["simulated-b"] }, resilience: { failureThreshold: 2, perModelProviders: ["simulated"] }, worker: { attempts: 1 } });
  });
  afterAll(() => t?.close());

  it("a failing model opens only its own circuit; the provider's other models keep serving", async () => {
    await t.gql(t.adminKey, `mutation { setSimulatedFaults(provider: "simulated", model: "text", failRate: 1) }`);
    for (let i = 0; i < 2; i++) {
      const r = await t.gql(t.adminKey, CREATE, { input: { modality: "TEXT", model: "simulated/text", prompt: `x${i}`, wait: 10 } });
      expect(r.data!.createGeneration.status).toBe("FAILED");
    }
    const circuits = (await t.gql(t.adminKey, `{ providers { id circuits { model state } } }`)).data!.providers.find((p: any) => p.id === "simulated").circuits;
    expect(circuits).toContainEqual({ model: "text", state: "OPEN" });
    const emb = await t.gql(t.adminKey, CREATE, { input: { modality: "EMBEDDING", model: "simulated/embedding", prompt: "still fine", wait: 10 } });
    expect(emb.data!.createGeneration.status).toBe("SUCCEEDED");
    const skipped = await t.gql(t.adminKey, CREATE, { input: { modality: "TEXT", model: "simulated/text", fallbackModels: ["simulated-b/text"], prompt: "y", wait: 10 } });
    expect(skipped.data!.createGeneration).toMatchObject({ status: "SUCCEEDED", provider: { id: "simulated-b" } });
    await t.gql(t.adminKey, `mutation { setSimulatedFaults(provider: "simulated", model: "text", failRate: 0) }`);
  });

  it("failures a request injects into itself (params.simulate) do not count against the provider", async () => {
    await t.gql(t.adminKey, `mutation { resetCircuit(provider: "simulated", model: "text") { state } }`);
    for (let i = 0; i < 3; i++)
      await t.gql(t.adminKey, CREATE, { input: { modality: "TEXT", model: "simulated/text", prompt: `inj${i}`, wait: 10, params: { simulate: { failRate: 1, failWith: "unavailable" } } } });
    const circuits = (await t.gql(t.adminKey, `{ providers { id circuits { model state consecutiveFailures } } }`)).data!.providers.find((p: any) => p.id === "simulated").circuits;
    expect(circuits.find((c: any) => c.model === "text")).toMatchObject({ state: "CLOSED", consecutiveFailures: 0 });
  });
});
