/**
 * Every statement that touches quota rows locks them in one global order — generation rows
 * first, then quota rows by (user_id, period_start) — so none can close a cycle with another.
 * Each case pins the cycle down: a second connection plays the other party, locking in that
 * global order (as an admission batch on another node does) and pausing half-way. A statement
 * that locks in any other order deadlocks with it; one in the global order just waits.
 */
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GenerationStore } from "../../src/domain/generations/generation.store";
import type { GenerationEntity } from "../../src/db/entities/generation.entity";
import { startTestApp, type TestApp } from "../helpers/test-app";

const USERS = 10;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("quota rows are locked in one global order", () => {
  let t: TestApp;
  let other: Client;
  let users: { id: string; key: string }[];
  const ids = () => users.map((u) => u.id).sort();

  /** One generation per user, admitted from the highest user id down: the quota rows' scan order is the reverse of the global order. */
  async function oneEach(): Promise<GenerationEntity[]> {
    const out: GenerationEntity[] = [];
    for (const u of [...users].sort((x, y) => (x.id < y.id ? 1 : -1))) {
      const viewer = { userId: u.id, role: "USER" as const, tier: "enterprise" as const, apiKeyId: null, requestId: "lock-order" };
      out.push(await t.app.services.generations.create(viewer, { modality: "TEXT", model: "simulated/text", prompt: `for ${u.id}` }));
    }
    return out;
  }

  /**
   * The other party: locks the lowest user's quota row, lets `stmt` start, then locks the rest
   * in order. Returns both outcomes (a deadlock aborts one of them after deadlock_timeout).
   */
  async function against<T>(stmt: () => Promise<T>, firstLock = `SELECT 1 FROM quota_periods WHERE user_id = $1::uuid FOR NO KEY UPDATE`, firstArg: string = ids()[0]) {
    await other.query("BEGIN");
    await other.query(firstLock, [firstArg]);
    const running = stmt().then((v) => ({ ok: true as const, v }), (e: Error) => ({ ok: false as const, e }));
    await sleep(300); // the statement is now waiting on the lowest row (or has already locked others)
    let otherError: Error | null = null;
    try {
      await other.query(`SELECT 1 FROM quota_periods WHERE user_id = ANY($1::uuid[]) ORDER BY user_id, period_start FOR NO KEY UPDATE`, [ids()]);
      await other.query("COMMIT");
    } catch (e) {
      otherError = e as Error;
      await other.query("ROLLBACK");
    }
    return { result: await running, otherError };
  }

  beforeAll(async () => {
    t = await startTestApp({ rateLimits: { enterprise: { perMinute: 0, perHour: 0 } } }, { workers: false });
    // A production-sized quota table: statements reach rows through the index, in the order of their own batch.
    await t.app.ds.query(`INSERT INTO users (id, email, role, tier) SELECT gen_random_uuid(), 'filler-' || i || '@test.local', 'USER', 'free' FROM generate_series(1, 5000) i`);
    await t.app.ds.query(`INSERT INTO quota_periods (user_id, period_start, period_end, limit_micros) SELECT id, date_trunc('month', now()), date_trunc('month', now()) + interval '1 month', 1000000 FROM users WHERE email LIKE 'filler-%'`);
    await t.app.ds.query(`ANALYZE users; ANALYZE quota_periods`);
    users = await Promise.all(Array.from({ length: USERS }, () => t.createUser(undefined, { tier: "enterprise" })));
    other = new Client({ connectionString: t.db.url });
    await other.connect();
    // The other party checks for deadlocks first, so it (never the statement under test, which
    // would retry) is the victim of any cycle: a test passes by lock order alone.
    await other.query(`SET deadlock_timeout = '50ms'`);
  });
  afterAll(async () => {
    await other?.end();
    await t?.close();
  });

  it("a worker's batched settle (charge and release of many users' generations in one statement)", async () => {
    const gens = await oneEach();
    const store = new GenerationStore(t.app.ds);
    const claims = await Promise.all(gens.map((g) => store.claim(g.id)));
    const { result, otherError } = await against(() =>
      Promise.all(claims.map((c) => store.succeed({ gen: c!.gen, attemptNo: c!.attemptNo, output: { text: "ok" }, latencyMs: 1, costMicros: 3 }))),
    );
    expect(otherError?.message ?? null).toBeNull();
    expect(result.ok ? null : result.e.message).toBeNull();
    expect(result.ok && result.v.every((g) => g?.status === "SUCCEEDED")).toBe(true);
    expect((await t.app.services.quotas.verify()).mismatches).toEqual([]);
  });

  it("a release of many users' generations in one statement (sweeper expiry, cancel, failure, followers)", async () => {
    const gens = await oneEach();
    const { result, otherError } = await against(() => new GenerationStore(t.app.ds).expire({ ids: gens.map((g) => g.id) }));
    expect(otherError?.message ?? null).toBeNull();
    expect(result.ok ? null : result.e.message).toBeNull();
    expect(result.ok && result.v.length).toBe(USERS);
    expect((await t.app.services.quotas.verify()).mismatches).toEqual([]);
  });

  it("an admission batch of many users", async () => {
    await oneEach(); // their period rows exist
    const viewers = users.map((u) => ({ userId: u.id, role: "USER" as const, tier: "enterprise" as const, apiKeyId: null, requestId: "lock-order" }));
    const { result, otherError } = await against(() =>
      Promise.all(viewers.map((v) => t.app.services.generations.create(v, { modality: "TEXT", model: "simulated/text", prompt: "batched" }))),
    );
    expect(otherError?.message ?? null).toBeNull();
    expect(result.ok ? null : result.e.message).toBeNull();
    expect((await t.app.services.quotas.verify()).mismatches).toEqual([]);
  });

  it("a retry's reservation extend against a cancel of the same generation (generation row first, then its quota row)", async () => {
    const [gen] = await oneEach();
    const claim = (await new GenerationStore(t.app.ds).claim(gen.id))!;
    // The other party is a cancel: it holds the generation row, then wants the quota row.
    await other.query("BEGIN");
    await other.query(`UPDATE generations SET updated_at = now() WHERE id = $1`, [gen.id]);
    const running = t.app.services.quotas.extend(claim.gen, claim.attemptNo + 1).then((v) => ({ ok: true as const, v }), (e: Error) => ({ ok: false as const, e }));
    await sleep(300);
    let otherError: string | null = null;
    try {
      await other.query(`SELECT 1 FROM quota_periods WHERE user_id = $1 FOR NO KEY UPDATE`, [gen.userId]);
      await other.query("COMMIT");
    } catch (e) {
      otherError = (e as Error).message;
      await other.query("ROLLBACK");
    }
    const result = await running;
    expect(otherError).toBeNull();
    expect(result.ok ? null : result.e.message).toBeNull();
    expect(result.ok && result.v).toBe(true);
    expect((await t.app.services.quotas.verify()).mismatches).toEqual([]);
  });
});
