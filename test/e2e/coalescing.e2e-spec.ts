import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collect, startTestApp, type TestApp } from "../helpers/test-app";
import { spawnWorker } from "../helpers/worker-process";

const CREATE = `mutation($input: CreateGenerationInput!) { createGeneration(input: $input) { id status } }`;
const GET = `query($id: ID!) { generation(id: $id) { id status costUsd cached cacheHit { kind sourceGenerationId } output { text } attempts { status } } }`;
const SUB = `subscription($id: ID!) { generationUpdated(id: $id) { type delta generation { status } } }`;

async function terminal(t: TestApp, key: string, id: string, deadlineMs = 20_000) {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const g = (await t.gql(key, GET, { id })).data!.generation;
    if (["SUCCEEDED", "FAILED", "CANCELLED"].includes(g.status) || Date.now() > end) return g;
    await new Promise((r) => setTimeout(r, 50));
  }
}
const ledger = (t: TestApp, ids: string[]) =>
  t.app.ds.query(`SELECT generation_id, kind, amount_micros::int AS amount FROM spend_ledger WHERE generation_id = ANY($1::uuid[]) AND kind = 'charge'`, [ids]);
const attempts = async (t: TestApp, ids: string[]) =>
  (await t.app.ds.query(`SELECT count(*)::int AS n FROM generation_attempts WHERE generation_id = ANY($1::uuid[])`, [ids]))[0].n as number;

describe("in-flight coalescing", () => {
  let t: TestApp;
  let apiB: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
    apiB = await startTestApp({}, { db: t.db, prefix: t.config.redis.prefix, workers: false });
  });
  afterAll(async () => {
    await apiB?.close();
    await t?.close();
  });
  const input = (prompt: string, latencyMs = 800) => ({ modality: "TEXT", model: "simulated/text", prompt, seed: 42, params: { simulate: { latencyMs } } });

  it("N identical concurrent requests: one upstream call, N generations, all succeed, charged once", async () => {
    const u = await t.createUser(undefined, { tier: "pro" });
    const res = await Promise.all(Array.from({ length: 5 }, () => t.gql(u.key, CREATE, { input: input("coalesce me") })));
    const ids = res.map((r) => r.data!.createGeneration.id as string);
    expect(new Set(ids).size).toBe(5);
    const gens = await Promise.all(ids.map((id) => terminal(t, u.key, id)));
    expect(gens.map((g) => g.status)).toEqual(Array(5).fill("SUCCEEDED"));
    expect(new Set(gens.map((g) => g.output.text)).size).toBe(1);
    expect(await attempts(t, ids)).toBe(1);
    const leader = gens.find((g) => g.attempts.length === 1)!;
    for (const g of gens.filter((x) => x.id !== leader.id)) expect(g.cacheHit).toEqual({ kind: "COALESCED", sourceGenerationId: leader.id });
    const charges = await ledger(t, ids);
    expect(charges).toHaveLength(1);
    expect(charges[0].generation_id).toBe(leader.id);
    expect(gens.reduce((s, g) => s + g.costUsd, 0)).toBeCloseTo(leader.costUsd, 9);
    const [q] = await t.app.ds.query(`SELECT spent_micros::int AS spent, reserved_micros::int AS reserved FROM quota_periods WHERE user_id = $1`, [u.id]);
    expect(q).toEqual({ spent: charges[0].amount, reserved: 0 });
    expect((await t.app.services.quotas.verify()).mismatches).toEqual([]);
    const stats = (await t.gql(t.adminKey, "{ cacheStats { coalesced } }")).data!.cacheStats;
    expect(stats.coalesced).toBeGreaterThanOrEqual(4);
    const metrics = await (await fetch(t.url.replace("/graphql", "/metrics"))).text();
    expect(metrics).toMatch(/switchboard_cache_lookups_total\{kind="coalesce",outcome="joined"\} [4-9]/);
  });

  it("a follower streams the same deltas, and cancelling it does not stop the shared work", async () => {
    const u = await t.createUser(undefined, { tier: "pro" });
    const lead = (await t.gql(u.key, CREATE, { input: input("stream together", 1500) })).data!.createGeneration.id;
    const [f1, f2] = await Promise.all([1, 2].map(async () => (await t.gql(u.key, CREATE, { input: input("stream together", 1500) })).data!.createGeneration.id));
    const sub = collect<any>(t.wsClient(u.key), SUB, { id: f1 }, (e) => ["SUCCEEDED", "FAILED", "CANCELLED"].includes(e.type));
    expect((await t.gql(u.key, `mutation($id: ID!) { cancelGeneration(id: $id) { status } }`, { id: f2 })).data!.cancelGeneration.status).toBe("CANCELLED");
    const events = await sub.done;
    expect(events.at(-1).type).toBe("SUCCEEDED");
    const [g1, gl] = [await terminal(t, u.key, f1), await terminal(t, u.key, lead)];
    expect([g1.status, gl.status]).toEqual(["SUCCEEDED", "SUCCEEDED"]);
    const deltas = events.filter((e: any) => e.type === "DELTA").map((e: any) => e.delta).join("");
    expect(g1.output.text.endsWith(deltas)).toBe(true);
    expect(deltas.length).toBeGreaterThan(0);
    expect((await terminal(t, u.key, f2)).status).toBe("CANCELLED");
    expect(await attempts(t, [lead, f1, f2])).toBe(1);
  });

  it("if the paying caller cancels, the work goes on and the charge moves to a caller still waiting", async () => {
    const u = await t.createUser(undefined, { tier: "pro" });
    const lead = (await t.gql(u.key, CREATE, { input: input("the payer leaves", 1500) })).data!.createGeneration.id;
    const f = (await t.gql(u.key, CREATE, { input: input("the payer leaves", 1500) })).data!.createGeneration.id;
    await new Promise((r) => setTimeout(r, 300));
    await t.gql(u.key, `mutation($id: ID!) { cancelGeneration(id: $id) { status } }`, { id: lead });
    const gf = await terminal(t, u.key, f);
    expect(gf.status).toBe("SUCCEEDED");
    expect(gf.costUsd).toBeGreaterThan(0);
    const gl = await terminal(t, u.key, lead);
    expect(gl).toMatchObject({ status: "CANCELLED", costUsd: 0 });
    const charges = await ledger(t, [lead, f]);
    expect(charges.map((c: any) => c.generation_id)).toEqual([f]);
    expect((await t.app.services.quotas.verify()).mismatches).toEqual([]);
  });

  it("coalesces across two API processes", async () => {
    const u = await t.createUser(undefined, { tier: "pro" });
    const a = (await t.gql(u.key, CREATE, { input: input("two nodes", 1500) })).data!.createGeneration.id;
    await new Promise((r) => setTimeout(r, 200));
    const b = (await apiB.gql(u.key, CREATE, { input: input("two nodes", 1500) })).data!.createGeneration.id;
    const [ga, gb] = [await terminal(t, u.key, a), await terminal(apiB, u.key, b)];
    expect([ga.status, gb.status]).toEqual(["SUCCEEDED", "SUCCEEDED"]);
    expect(gb.cacheHit).toEqual({ kind: "COALESCED", sourceGenerationId: a });
    expect(await attempts(t, [a, b])).toBe(1);
  });

  it("does not coalesce requests that are not cacheable (no seed)", async () => {
    const u = await t.createUser(undefined, { tier: "pro" });
    const res = await Promise.all([1, 2].map(() => t.gql(u.key, CREATE, { input: { modality: "TEXT", model: "simulated/text", prompt: "fresh each time" } })));
    const ids = res.map((r) => r.data!.createGeneration.id);
    await Promise.all(ids.map((id) => terminal(t, u.key, id)));
    expect(await attempts(t, ids)).toBe(2);
  });

  it("a leader cancelled before it ran hands the group to its oldest follower", async () => {
    const solo = await startTestApp({}, { workers: false });
    try {
      const v = await solo.createUser(undefined, { tier: "pro" });
      const lead = (await solo.gql(v.key, CREATE, { input: input("queued leader leaves", 10) })).data!.createGeneration.id;
      const f = (await solo.gql(v.key, CREATE, { input: input("queued leader leaves", 10) })).data!.createGeneration.id;
      expect((await solo.app.ds.query(`SELECT group_id FROM generations WHERE id = $1`, [f]))[0].group_id).toBe(lead);
      await solo.gql(v.key, `mutation($id: ID!) { cancelGeneration(id: $id) { status } }`, { id: lead });
      expect((await solo.app.ds.query(`SELECT group_id FROM generations WHERE id = $1`, [f]))[0].group_id).toBeNull();
      expect(await solo.app.queue.state(f)).toBe("waiting");
      const worker = await startTestApp({}, { db: solo.db, prefix: solo.config.redis.prefix });
      try {
        const gf = await terminal(solo, v.key, f);
        expect(gf.status).toBe("SUCCEEDED");
        expect(await attempts(solo, [lead, f])).toBe(1);
        expect((await terminal(solo, v.key, lead)).status).toBe("CANCELLED");
      } finally {
        await worker.close();
      }
    } finally {
      await solo.close();
    }
  });

  it("coalesces across two API processes (a second `serve --no-worker` process)", async () => {
    const u = await t.createUser(undefined, { tier: "pro" });
    const proc = await spawnWorker(t, {}, 30_000, ["serve", "--no-worker"]);
    try {
      const url = `http://127.0.0.1:${proc.metricsPort}/graphql`;
      const a = (await t.gql(u.key, CREATE, { input: input("two processes", 1500) })).data!.createGeneration.id;
      await new Promise((r) => setTimeout(r, 200));
      const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${u.key}` }, body: JSON.stringify({ query: CREATE, variables: { input: input("two processes", 1500) } }) });
      const b = ((await res.json()) as any).data.createGeneration.id;
      const [ga, gb] = [await terminal(t, u.key, a), await terminal(t, u.key, b)];
      expect([ga.status, gb.status]).toEqual(["SUCCEEDED", "SUCCEEDED"]);
      expect(gb.cacheHit).toEqual({ kind: "COALESCED", sourceGenerationId: a });
      expect(await attempts(t, [a, b])).toBe(1);
    } finally {
      await proc.stop();
    }
  });
});
