import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Client } from "pg";
import { until } from "../helpers/stream-protocol";
import { startTestApp, type TestApp } from "../helpers/test-app";

const CREATE = `mutation($p: String!) { createGeneration(input: {modality: TEXT, model: "simulated/text", prompt: $p}) { id } }`;
const count = async (t: TestApp, userId: string) => (await t.app.ds.query(`SELECT count(*)::int AS n FROM generations WHERE user_id = $1`, [userId]))[0].n as number;

describe("rate limits per user and tier, exact across API nodes", () => {
  let a: TestApp;
  let b: TestApp;
  beforeAll(async () => {
    a = await startTestApp({ rateLimits: { free: { perMinute: 5, perHour: 100 } } }, { workers: false });
    b = await startTestApp({ rateLimits: { free: { perMinute: 5, perHour: 100 } } }, { workers: false, db: a.db, prefix: a.config.redis.prefix });
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  it("the sixth request in a minute, across two nodes, is RATE_LIMITED with retryAfterSeconds; nothing is written", async () => {
    const u = await a.createUser();
    for (let i = 0; i < 3; i++) expect((await a.gql(u.key, CREATE, { p: `a${i}` })).errors).toBeUndefined();
    for (let i = 0; i < 2; i++) expect((await b.gql(u.key, CREATE, { p: `b${i}` })).errors).toBeUndefined();
    const res = await b.gql(u.key, CREATE, { p: "one too many" });
    expect(res.errors?.[0].extensions).toMatchObject({ code: "RATE_LIMITED", limit: 5, window: "minute", remaining: 0 });
    expect(res.errors![0].extensions!.retryAfterSeconds).toBeGreaterThan(0);
    expect(res.errors![0].extensions!.retryAfterSeconds).toBeLessThanOrEqual(60);
    expect(await count(a, u.id)).toBe(5);
    const other = await a.createUser();
    expect((await a.gql(other.key, CREATE, { p: "someone else" })).errors).toBeUndefined();
    const pro = await a.createUser(undefined, { tier: "pro" });
    for (let i = 0; i < 7; i++) expect((await a.gql(pro.key, CREATE, { p: `pro${i}` })).errors).toBeUndefined();
  });
});

describe("admission caps: QUEUE_FULL with the current depth", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ admission: { maxQueuedPerUser: 3, maxQueuedTotal: 8 } }, { workers: false });
  });
  afterAll(async () => {
    await t?.close();
  });

  it("caps one user's queued generations, not another's", async () => {
    const u = await t.createUser(undefined, { tier: "pro" });
    for (let i = 0; i < 3; i++) expect((await t.gql(u.key, CREATE, { p: `q${i}` })).errors).toBeUndefined();
    const res = await t.gql(u.key, CREATE, { p: "fourth" });
    expect(res.errors?.[0].extensions).toMatchObject({ code: "QUEUE_FULL", depth: 3, limit: 3 });
    expect(await count(t, u.id)).toBe(3);
    const v = await t.createUser(undefined, { tier: "pro" });
    expect((await t.gql(v.key, CREATE, { p: "mine" })).errors).toBeUndefined();
    // Cancelling frees a slot.
    const [first] = await t.app.ds.query(`SELECT id FROM generations WHERE user_id = $1 LIMIT 1`, [u.id]);
    expect((await t.gql(u.key, `mutation($id: ID!) { cancelGeneration(id: $id) { status } }`, { id: first.id })).errors).toBeUndefined();
    expect((await t.gql(u.key, CREATE, { p: "after cancel" })).errors).toBeUndefined();
  });

  it("caps the whole queue (depth sampled once a second)", async () => {
    for (let i = 0; i < 4; i++) {
      const w = await t.createUser(undefined, { tier: "pro" });
      await t.gql(w.key, CREATE, { p: `fill ${i}` });
    }
    await new Promise((r) => setTimeout(r, 1100));
    const late = await t.createUser(undefined, { tier: "pro" });
    const res = await t.gql(late.key, CREATE, { p: "no room" });
    expect(res.errors?.[0].extensions).toMatchObject({ code: "QUEUE_FULL", limit: 8 });
    expect(res.errors![0].extensions!.depth).toBeGreaterThanOrEqual(8);
    expect(await count(t, late.id)).toBe(0);
  });
});

describe("the per-user cap while another node's admission for the same user commits", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ admission: { maxQueuedPerUser: 3, maxQueuedTotal: 1000 } }, { workers: false });
  });
  afterAll(async () => {
    await t?.close();
  });

  // Admission reads the user's queued count in the statement that locks their quota row: that count is of the statement's
  // snapshot, taken before the lock wait. An admission that committed during the wait must still count (the row's request
  // count tells), or a user could pass the cap by sending to two nodes at once.
  it("an admission that commits while this one waits on the user's quota row is counted: QUEUE_FULL, not a fourth", async () => {
    const u = await t.createUser(undefined, { tier: "pro" });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await t.gql(u.key, CREATE, { p: `soon active ${i}` });
      ids.push(res.data!.createGeneration.id);
      expect((await t.gql(u.key, `mutation($id: ID!) { cancelGeneration(id: $id) { status } }`, { id: ids[i] })).errors).toBeUndefined();
    }
    // "Another node": a transaction holding the user's quota row that makes three generations active, as an admission commits them.
    const other = new Client({ connectionString: t.db.url });
    await other.connect();
    try {
      await other.query("BEGIN");
      await other.query(`UPDATE quota_periods SET requests = requests + 3 WHERE user_id = $1`, [u.id]);
      await other.query(`UPDATE generations SET status = 'QUEUED', error_code = NULL, error_message = NULL, completed_at = NULL WHERE id = ANY($1::uuid[])`, [ids]);
      const racing = t.gql(u.key, CREATE, { p: "racing" });
      // It waits on the row lock, its statement's snapshot taken before the other commit.
      await until(async () => (await other.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`)).rows[0].n, (n) => n > 0, 10_000, "the racing admission waiting on the row lock");
      await other.query("COMMIT");
      const res = await racing;
      expect(res.errors?.[0].extensions).toMatchObject({ code: "QUEUE_FULL", depth: 3, limit: 3 });
      expect(await count(t, u.id)).toBe(3);
    } finally {
      await other.end();
    }
  });
});
