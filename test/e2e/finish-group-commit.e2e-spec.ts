/**
 * A worker's successes are a group commit (generation.store.ts): every success statement locks its
 * user's quota row (the charge and the release move it), and that row is also what each admission
 * transaction of every API node holds while it runs. Runs that finish while one success statement
 * waits on the row join the next statement instead of queueing on the row one statement each
 * (measured in `BENCH_ONLY=scale npm run bench`: one user's admissions and completions serialize on
 * that row, and every queued statement is one more turn of the lock, and one more pool connection).
 */
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GenerationStore } from "../../src/domain/generations/generation.store";
import { startTestApp, type TestApp } from "../helpers/test-app";

const RUNS = 4;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const turn = () => new Promise((r) => setImmediate(r));

describe("a worker's successes wait on a locked quota row as one statement", () => {
  let t: TestApp;
  let other: Client;

  beforeAll(async () => {
    t = await startTestApp({ rateLimits: { enterprise: { perMinute: 0, perHour: 0 } } }, { workers: false });
    other = new Client({ connectionString: t.db.url });
    await other.connect();
  });
  afterAll(async () => {
    await other?.end();
    await t?.close();
  });

  /** Success statements of this database waiting on a lock right now (read outside any transaction: a fresh snapshot each time). */
  const waitingSuccesses = async (): Promise<number> => {
    const [r] = await t.app.ds.query(
      `SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%jsonb_to_recordset%' AND query LIKE '%SUCCEEDED%'`,
    );
    return r.n as number;
  };

  it("runs finishing while the user's quota row is held go to Postgres together, and every one is charged and released once", async () => {
    const user = await t.createUser(undefined, { tier: "enterprise" });
    const viewer = { userId: user.id, role: "USER" as const, tier: "enterprise" as const, apiKeyId: null, requestId: "group-commit" };
    const gens = [];
    for (let i = 0; i < RUNS; i++) gens.push(await t.app.services.generations.create(viewer, { modality: "TEXT", model: "simulated/text", prompt: `run ${i}` }));
    const store = new GenerationStore(t.app.ds);
    const claims = await Promise.all(gens.map((g) => store.claim(g.id)));
    // Another party (an admission on another node) holds the user's quota row.
    await other.query("BEGIN");
    await other.query(`SELECT 1 FROM quota_periods WHERE user_id = $1 FOR NO KEY UPDATE`, [user.id]);
    const succeed = (i: number) => store.succeed({ gen: claims[i]!.gen, attemptNo: claims[i]!.attemptNo, output: { text: "ok" }, latencyMs: 1, costMicros: 3 });
    const done = [succeed(0)];
    for (let i = 0; i < 100 && (await waitingSuccesses()) < 1; i++) await sleep(20);
    expect(await waitingSuccesses()).toBe(1);
    // The other runs end one by one, each in its own turn, while the first statement waits.
    for (let i = 1; i < RUNS; i++) {
      await turn();
      done.push(succeed(i));
    }
    // One statement per run would show up here within a few ms each; give them ample time to.
    let most = 0;
    for (let i = 0; i < 25; i++) {
      most = Math.max(most, await waitingSuccesses());
      await sleep(20);
    }
    await other.query("COMMIT");
    const rows = await Promise.all(done);
    expect(most).toBe(1);
    expect(rows.map((g) => g?.status)).toEqual(Array(RUNS).fill("SUCCEEDED"));
    expect((await t.app.services.quotas.verify()).mismatches).toEqual([]);
    const [q] = await t.app.ds.query(`SELECT spent_micros::bigint AS spent, reserved_micros::bigint AS reserved FROM quota_periods WHERE user_id = $1`, [user.id]);
    expect(Number(q.spent)).toBe(3 * RUNS);
    expect(Number(q.reserved)).toBe(0);
  });
});
