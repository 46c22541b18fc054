import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collect, startTestApp, type TestApp } from "../helpers/test-app";

const CREATE = `mutation($input: CreateGenerationInput!) { createGeneration(input: $input) { id status output { text } attempts { status } } }`;
const CANCEL = `mutation($id: ID!) { cancelGeneration(id: $id) { id status error { code } } }`;
const GET = `query($id: ID!) { generation(id: $id) { status completedAt error { code } attempts { status latencyMs errorKind } } }`;
const SUB = `subscription($id: ID!) { generationUpdated(id: $id) { seq type generation { status } } }`;

interface Ev {
  seq: number;
  type: string;
  generation: { status: string };
}

const text = (input: Record<string, unknown>) => ({ modality: "TEXT", model: "simulated/text", ...input });

/** Subscribes; `reached` resolves at the first event matching `when`, `done` at the terminal event. */
function watch(t: TestApp, id: string, when: (ev: Ev) => boolean) {
  let arrive!: () => void;
  const seen = new Promise<void>((r) => (arrive = r));
  const sub = collect<Ev>(t.wsClient(t.adminKey), SUB, { id }, (ev) => {
    if (when(ev)) arrive();
    return ["SUCCEEDED", "FAILED", "CANCELLED"].includes(ev.type);
  });
  const ended = sub.done.then((evs) => Promise.reject(new Error(`ended first: ${JSON.stringify(evs)}`)));
  const reached = Promise.race([seen, ended]);
  reached.catch(() => undefined); // only an error for callers that await it
  return { ...sub, reached };
}

describe("createGeneration(wait) and cancelGeneration", () => {
  let t: TestApp; // API + workers
  let api: TestApp; // API only: nothing runs its generations
  beforeAll(async () => {
    [t, api] = await Promise.all([startTestApp(), startTestApp({}, { workers: false })]);
  });
  afterAll(async () => {
    await Promise.all([t?.close(), api?.close()]);
  });

  it("wait: 10 returns the SUCCEEDED generation in one call", async () => {
    const res = await t.gql(t.adminKey, CREATE, { input: text({ prompt: "sync path", wait: 10 }) });
    expect(res.errors).toBeUndefined();
    const g = res.data!.createGeneration;
    expect(g.status).toBe("SUCCEEDED");
    expect(g.output.text).toMatch(/^Simulated answer to: sync path\./);
    expect(g.attempts).toEqual([{ status: "SUCCEEDED" }]);
  });

  it("wait: 1 on a slow generation returns after about a second, still in flight", async () => {
    const t0 = Date.now();
    const res = await t.gql(t.adminKey, CREATE, { input: text({ prompt: "slow", wait: 1, params: { simulate: { latencyMs: 5000 } } }) });
    const elapsed = Date.now() - t0;
    expect(res.errors).toBeUndefined();
    const g = res.data!.createGeneration;
    expect(["QUEUED", "RUNNING"]).toContain(g.status);
    expect(g.output).toBeNull();
    expect(elapsed).toBeGreaterThanOrEqual(950);
    expect(elapsed).toBeLessThan(3000);
    await t.gql(t.adminKey, CANCEL, { id: g.id }); // do not leave it running into shutdown
  });

  it("cancels a QUEUED generation: CANCELLED, its job removed, subscribers told", async () => {
    const created = await api.gql(api.adminKey, CREATE, { input: text({ prompt: "never runs" }) });
    const id = created.data!.createGeneration.id;
    expect(created.data!.createGeneration.status).toBe("QUEUED");
    expect(await api.app.queue.state(id)).toBe("waiting");
    const sub = watch(api, id, (ev) => ev.type === "SNAPSHOT");
    await sub.reached;
    const res = await api.gql(api.adminKey, CANCEL, { id });
    expect(res.errors).toBeUndefined();
    expect(res.data!.cancelGeneration).toEqual({ id, status: "CANCELLED", error: { code: "CANCELLED" } });
    expect(await api.app.queue.state(id)).toBe("missing");
    const events = await sub.done;
    expect(events.map((e) => e.type)).toEqual(["SNAPSHOT", "CANCELLED"]);
    expect(events[1].generation.status).toBe("CANCELLED");
    expect(events[1].seq).toBe(events[0].seq + 1);
    const after = await api.gql(api.adminKey, GET, { id });
    expect(after.data!.generation).toMatchObject({ status: "CANCELLED", attempts: [] });
  });

  it("cancels a RUNNING generation: the abort reaches the provider and nothing overwrites CANCELLED", async () => {
    const t0 = Date.now();
    const created = await t.gql(t.adminKey, CREATE, { input: text({ prompt: "ten seconds", params: { simulate: { latencyMs: 10_000 } } }) });
    const id = created.data!.createGeneration.id;
    // The worker usually claims it before we subscribe: then STARTED is folded into a RUNNING snapshot.
    const sub = watch(t, id, (ev) => ev.type === "STARTED" || (ev.type === "SNAPSHOT" && ev.generation.status === "RUNNING"));
    await sub.reached;
    expect(t.app.runner!.activeCount).toBeGreaterThanOrEqual(1);
    const res = await t.gql(t.adminKey, CANCEL, { id });
    expect(res.errors).toBeUndefined();
    expect(res.data!.cancelGeneration.status).toBe("CANCELLED");
    const events = await sub.done;
    expect(events.at(-1)!.type).toBe("CANCELLED");
    await new Promise((r) => setTimeout(r, 1000)); // asserting an absence: no late SUCCEEDED/FAILED overwrite
    const after = await t.gql(t.adminKey, GET, { id });
    const g = after.data!.generation;
    expect(g.status).toBe("CANCELLED");
    expect(g.error.code).toBe("CANCELLED");
    expect(g.attempts).toHaveLength(1);
    expect(g.attempts[0]).toMatchObject({ status: "CANCELLED", errorKind: "cancelled" });
    expect(g.attempts[0].latencyMs).toBeLessThan(5000);
    expect(t.app.runner!.activeCount).toBe(0);
    expect(await t.app.queue.state(id)).not.toBe("active");
    expect(Date.now() - t0).toBeLessThan(6000);
  });

  it("refuses to cancel a SUCCEEDED generation with CONFLICT", async () => {
    const created = await t.gql(t.adminKey, CREATE, { input: text({ prompt: "done already", wait: 10 }) });
    const { id, status } = created.data!.createGeneration;
    expect(status).toBe("SUCCEEDED");
    const res = await t.gql(t.adminKey, CANCEL, { id });
    expect(res.data).toBeNull();
    expect(res.errors).toHaveLength(1);
    expect(res.errors![0].extensions).toMatchObject({ code: "CONFLICT", status: "SUCCEEDED" });
    const after = await t.gql(t.adminKey, GET, { id });
    expect(after.data!.generation.status).toBe("SUCCEEDED");
  });
});
