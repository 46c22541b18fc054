import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../helpers/test-app";

const CREATE = `mutation($input: CreateGenerationInput!) { createGeneration(input: $input) {
  id status error { code message } attempts { status errorKind latencyMs } } }`;

describe("deadlineSeconds: a whole-request deadline", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ worker: { backoffMs: 3000, attempts: 5 } });
  });
  afterAll(async () => {
    await t?.close();
  });

  it("aborts a slow upstream call when the deadline passes: FAILED with DEADLINE_EXCEEDED", async () => {
    const t0 = Date.now();
    const res = await t.gql(t.adminKey, CREATE, { input: { modality: "TEXT", model: "simulated/text", prompt: "too slow", deadlineSeconds: 1, wait: 10, params: { simulate: { latencyMs: 8000 } } } });
    const g = res.data!.createGeneration;
    expect(g.status).toBe("FAILED");
    expect(g.error.code).toBe("DEADLINE_EXCEEDED");
    expect(Date.now() - t0).toBeLessThan(4000);
    expect(g.attempts).toHaveLength(1);
    expect(g.attempts[0].latencyMs).toBeLessThan(2500);
  });

  it("stops retrying once the deadline has passed, and does not wait past it", async () => {
    const t0 = Date.now();
    const res = await t.gql(t.adminKey, CREATE, { input: { modality: "TEXT", model: "simulated/text", prompt: "keeps failing", deadlineSeconds: 2, wait: 15, params: { simulate: { failWith: "unavailable", retryAfterSeconds: 3 } } } });
    const g = res.data!.createGeneration;
    expect(g.status).toBe("FAILED");
    expect(g.error.code).toBe("DEADLINE_EXCEEDED");
    expect(g.attempts.length).toBeLessThan(5);
    expect(Date.now() - t0).toBeLessThan(2900); // Retry-After said 3 s; the deadline (2 s) wins
  });

  it("a request that finishes in time is unaffected", async () => {
    const res = await t.gql(t.adminKey, CREATE, { input: { modality: "TEXT", model: "simulated/text", prompt: "quick", deadlineSeconds: 30, wait: 10 } });
    expect(res.data!.createGeneration.status).toBe("SUCCEEDED");
  });

  it("rejects a deadline out of range", async () => {
    const res = await t.gql(t.adminKey, CREATE, { input: { modality: "TEXT", model: "simulated/text", prompt: "x", deadlineSeconds: 0 } });
    expect(res.errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");
  });
});
