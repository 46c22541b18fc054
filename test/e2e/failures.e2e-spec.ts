import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collect, startTestApp, type TestApp } from "../helpers/test-app";

const CREATE = `mutation($input: CreateGenerationInput!) {
  createGeneration(input: $input) { id status error { code message } attempts { attemptNo status errorKind errorMessage createdAt } }
}`;
const SUB = `subscription($id: ID!) { generationUpdated(id: $id) { seq type message generation { status } } }`;

interface Attempt {
  attemptNo: number;
  status: string;
  errorKind: string | null;
  errorMessage: string | null;
  createdAt: string;
}
interface Gen {
  id: string;
  status: string;
  error: { code: string; message: string } | null;
  attempts: Attempt[];
}

const text = (prompt: string, simulate: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
  ({ modality: "TEXT", model: "simulated/text", prompt, params: { simulate }, ...extra });

describe("upstream failures end in the right terminal state (JOB_ATTEMPTS 3)", () => {
  let t: TestApp; // one job at a time, so a blocker keeps the next generation QUEUED until we subscribe
  let fast: TestApp; // a 300 ms provider timeout
  beforeAll(async () => {
    [t, fast] = await Promise.all([startTestApp({ worker: { concurrency: 1 } }), startTestApp({ worker: { providerTimeoutMs: 300 } })]);
    expect(t.config.worker.attempts).toBe(3);
  });
  afterAll(async () => {
    await Promise.all([t?.close(), fast?.close()]);
  });

  async function run(app: TestApp, input: Record<string, unknown>): Promise<Gen> {
    const res = await app.gql(app.adminKey, CREATE, { input: { wait: 30, ...input } });
    expect(res.errors).toBeUndefined();
    return res.data!.createGeneration;
  }

  function expectFailedThrice(g: Gen, code: string, errorKind: string): void {
    expect(g.status).toBe("FAILED");
    expect(g.error!.code).toBe(code);
    expect(g.attempts.map((a) => [a.attemptNo, a.status, a.errorKind])).toEqual([1, 2, 3].map((n) => [n, "FAILED", errorKind]));
  }

  it("timeout → FAILED TIMEOUT after 3 attempts", async () => {
    const g = await run(fast, text("hang", { failWith: "timeout" }));
    expectFailedThrice(g, "TIMEOUT", "timeout");
  });

  it("rate_limited → FAILED RATE_LIMITED after 3 attempts", async () => {
    const g = await run(t, text("429", { failWith: "rate_limited", retryAfterSeconds: 0 }));
    expectFailedThrice(g, "RATE_LIMITED", "rate_limited");
  });

  it("rate_limited honours Retry-After between attempts", async () => {
    const g = await run(t, text("429 wait", { failWith: "rate_limited", retryAfterSeconds: 1 }));
    expectFailedThrice(g, "RATE_LIMITED", "rate_limited");
    const at = g.attempts.map((a) => Date.parse(a.createdAt));
    expect(at[1] - at[0]).toBeGreaterThanOrEqual(950);
    expect(at[2] - at[1]).toBeGreaterThanOrEqual(950);
  });

  it("unavailable → FAILED PROVIDER_UNAVAILABLE after 3 attempts", async () => {
    const g = await run(t, text("503", { failWith: "unavailable" }));
    expectFailedThrice(g, "PROVIDER_UNAVAILABLE", "unavailable");
  });

  it("overloaded (529) → FAILED PROVIDER_UNAVAILABLE after 3 attempts", async () => {
    const g = await run(t, text("529", { failWith: "overloaded" }));
    expectFailedThrice(g, "PROVIDER_UNAVAILABLE", "unavailable");
    expect(g.attempts[0].errorMessage).toMatch(/overloaded/);
  });

  it("bad_response → FAILED BAD_RESPONSE after 3 attempts", async () => {
    const g = await run(t, text("garbage", { failWith: "bad_response" }));
    expectFailedThrice(g, "BAD_RESPONSE", "bad_response");
  });

  it("cut_stream → FAILED BAD_RESPONSE; a subscriber sees RESTARTED and RETRYING", async () => {
    await t.gql(t.adminKey, CREATE, { input: text("blocker", { latencyMs: 800 }) });
    const created = await t.gql(t.adminKey, CREATE, { input: text("cut me off", { failWith: "cut_stream", latencyMs: 200 }) });
    const id = created.data!.createGeneration.id;
    const sub = collect<{ seq: number; type: string; generation: { status: string } }>(t.wsClient(t.adminKey), SUB, { id }, (e) => ["SUCCEEDED", "FAILED", "CANCELLED"].includes(e.type));
    const events = await sub.done;
    expect(events[0]).toMatchObject({ type: "SNAPSHOT", generation: { status: "QUEUED" } });
    for (let i = 1; i < events.length; i++) expect(events[i].seq).toBe(events[i - 1].seq + 1);
    // Each attempt: STARTED, DELTA… (half the answer), RESTARTED, then RETRYING (or FAILED on the last).
    // A queue-position QUEUED may come while it waits behind the blocker (the watcher's first look), only before STARTED.
    const firstStart = events.findIndex((e) => e.type === "STARTED");
    const phases = events.filter((e, i) => e.type !== "DELTA" && !(e.type === "QUEUED" && i < firstStart)).map((e) => e.type);
    expect(phases).toEqual(["SNAPSHOT", "STARTED", "RESTARTED", "RETRYING", "STARTED", "RESTARTED", "RETRYING", "STARTED", "RESTARTED", "FAILED"]);
    expect(events.filter((e) => e.type === "DELTA").length).toBeGreaterThanOrEqual(3);
    const g = (await t.gql(t.adminKey, `query($id: ID!) { generation(id: $id) { id status error { code message } attempts { attemptNo status errorKind errorMessage createdAt } } }`, { id })).data!.generation;
    expectFailedThrice(g, "BAD_RESPONSE", "bad_response");
  });

  it("failRate 0.5: every generation ends SUCCEEDED or FAILED, retried ones show every attempt", async () => {
    const gens = await Promise.all(Array.from({ length: 10 }, (_, i) => run(t, text(`coin flip ${i}`, { failWith: "unavailable", failRate: 0.5 }))));
    for (const g of gens) {
      expect(["SUCCEEDED", "FAILED"]).toContain(g.status);
      const statuses = g.attempts.map((a) => a.status);
      if (g.status === "FAILED") {
        expect(statuses).toEqual(["FAILED", "FAILED", "FAILED"]);
        expect(g.error!.code).toBe("PROVIDER_UNAVAILABLE");
      } else {
        expect(statuses.at(-1)).toBe("SUCCEEDED");
        expect(statuses.slice(0, -1).every((s) => s === "FAILED")).toBe(true);
        expect(g.error).toBeNull();
      }
      expect(g.attempts.map((a) => a.attemptNo)).toEqual(statuses.map((_, i) => i + 1));
    }
    // The failure draw is deterministic per prompt and attempt: these prompts include each outcome.
    const retriedThenSucceeded = gens.filter((g) => g.status === "SUCCEEDED" && g.attempts.length > 1);
    expect(retriedThenSucceeded.length).toBeGreaterThan(0);
    expect(gens.some((g) => g.status === "SUCCEEDED" && g.attempts.length === 1)).toBe(true);
  });
});
