/**
 * Two nodes on one database: admission upserts many users' quota rows per batch while workers
 * charge and release other batches of them, retries extend their reservations, clients cancel
 * and the sweeper expires. Every statement locks quota rows in one order (generation rows,
 * then (user_id, period_start)), and a transaction that still meets a deadlock is retried, so
 * no caller sees one and the ledger stays whole. The second suite drives the cycle hard from
 * two DataSources (on the old SQL it met ~10 deadlocks in 15 s); the lock-order spec pins
 * each statement down deterministically.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type GqlResult, type TestApp } from "../helpers/test-app";
import { until } from "../helpers/quota";
import { GenerationStore } from "../../src/domain/generations/generation.store";
import type { Viewer } from "../../src/domain/viewer";

const CREATE = `mutation($input: CreateGenerationInput!) { createGeneration(input: $input) { id status } }`;
const CANCEL = `mutation($id: ID!) { cancelGeneration(id: $id) { id status } }`;

const USERS = 48;
const STREAMS = 20; // per node
const ROUNDS = 8; // requests per stream

describe("admission under multi-node load: no deadlock reaches a client", () => {
  let a: TestApp;
  let b: TestApp;
  const deadlocks = async () =>
    Number((await a.app.ds.query(`SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()`))[0].deadlocks);

  beforeAll(async () => {
    const cfg = { worker: { concurrency: 48 }, admission: { maxQueuedPerUser: 100_000, maxQueuedTotal: 1_000_000 } };
    a = await startTestApp(cfg, { workers: true });
    b = await startTestApp(cfg, { workers: true, db: a.db, prefix: a.config.redis.prefix });
  }, 60_000);
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  it("a burst of many users' creates, settles, retries and cancels on two nodes: zero client errors, ledger == charges, nothing reserved", async () => {
    // A production-sized quota table: statements then reach rows by index, in whatever order
    // their batch happens to be in (not the heap order the last writer left behind).
    await a.app.ds.query(`INSERT INTO users (id, email, role, tier) SELECT gen_random_uuid(), 'filler-' || i || '@test.local', 'USER', 'free' FROM generate_series(1, 5000) i`);
    await a.app.ds.query(`INSERT INTO quota_periods (user_id, period_start, period_end, limit_micros) SELECT id, date_trunc('month', now()), date_trunc('month', now()) + interval '1 month', 1000000 FROM users WHERE email LIKE 'filler-%'`);
    await a.app.ds.query(`ANALYZE users; ANALYZE quota_periods`);
    const users = await Promise.all(Array.from({ length: USERS }, () => a.createUser(undefined, { tier: "enterprise" })));
    // Quota rows stored in descending id order, so a statement that locks rows in scan order
    // locks them opposite to admission's (ascending) order.
    for (const u of [...users].sort((x, y) => (x.id < y.id ? 1 : -1))) {
      const r = await a.gql(u.key, CREATE, { input: { modality: "TEXT", model: "simulated/text", prompt: "seed the period row" } });
      expect(r.errors).toBeUndefined();
    }
    const before = await deadlocks();
    const errors: string[] = [];
    const note = (r: GqlResult, what: string) => {
      for (const e of r.errors ?? []) if (!(what === "cancel" && e.extensions?.code === "CONFLICT")) errors.push(`${what}: ${e.extensions?.code} ${e.message}`);
    };
    const ids: string[] = [];
    const cancels: Promise<void>[] = [];
    // STREAMS clients per node send requests back to back, each for a different user every
    // time: admission batches on both nodes overlap each other and the workers' settle
    // batches, each over a different subset of the users.
    await Promise.all(
      Array.from({ length: STREAMS }, (_, s) =>
        [a, b].map(async (node, n) => {
          for (let round = 0; round < ROUNDS; round++) {
            const i = (s * 7 + round * 13 + n * 31) % USERS;
            const u = users[i];
            const simulate = { latencyMs: (round + s) % 3 === 0 ? 15 : 0, ...((i + round) % 4 === 0 ? { failWith: "unavailable", failRate: 0.5 } : {}) };
            const r = await node.gql(u.key, CREATE, { input: { modality: "TEXT", model: "simulated/text", prompt: `r${round} s${s} n${n}`, params: { simulate } } });
            note(r, "create");
            const id = r.data?.createGeneration?.id as string | undefined;
            if (!id) continue;
            ids.push(id);
            // Every fifth one is cancelled from the other node while it may be running.
            if ((round + s + n) % 5 === 0) cancels.push((n ? a : b).gql(u.key, CANCEL, { id }).then((c) => note(c, "cancel")));
          }
        }),
      ).flat(),
    );
    await Promise.all(cancels);
    await until(
      async () => (await a.app.ds.query(`SELECT count(*)::int AS n FROM generations WHERE status IN ('QUEUED','RUNNING')`))[0].n as number,
      (n) => n === 0,
      120_000,
    );
    // Attempts still settling after a cancel: wait for them too.
    await until(
      async () => (await a.app.ds.query(`SELECT count(*)::int AS n FROM generation_attempts WHERE status = 'RUNNING'`))[0].n as number,
      (n) => n === 0,
      60_000,
    );
    expect(errors).toEqual([]);
    expect(ids.length).toBe(STREAMS * ROUNDS * 2);
    const v = await a.app.services.quotas.verify();
    expect(v.mismatches).toEqual([]);
    const [sums] = await a.app.ds.query(`
      SELECT (SELECT COALESCE(SUM(amount_micros), 0) FROM spend_ledger WHERE kind = 'charge')::bigint AS ledger,
             (SELECT COALESCE(SUM(cost_micros), 0) FROM generation_attempts)::bigint AS charges,
             (SELECT COALESCE(SUM(spent_micros), 0) FROM quota_periods)::bigint AS spent,
             (SELECT COALESCE(SUM(reserved_micros), 0) FROM quota_periods)::bigint AS reserved,
             (SELECT count(*) FROM generations g WHERE g.reserved_micros > 0
                AND NOT EXISTS (SELECT 1 FROM spend_ledger l WHERE l.generation_id = g.id AND l.kind = 'release'))::int AS leaked`);
    expect(Number(sums.ledger)).toBe(Number(sums.charges));
    expect(Number(sums.spent)).toBe(Number(sums.ledger));
    expect(Number(sums.reserved)).toBe(0);
    expect(sums.leaked).toBe(0);
    // The lock order leaves no cycle to retry out of (an idle backend reports its statistics within 10 s).
    await new Promise((r) => setTimeout(r, 11_000));
    expect((await deadlocks()) - before).toBe(0);
  }, 300_000);
});

describe("the same lock cycle driven hard from two DataSources", () => {
  let a: TestApp;
  let b: TestApp;
  const deadlocks = async () =>
    Number((await a.app.ds.query(`SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()`))[0].deadlocks);

  beforeAll(async () => {
    const cfg = { admission: { maxQueuedPerUser: 100_000, maxQueuedTotal: 1_000_000 }, rateLimits: { enterprise: { perMinute: 0, perHour: 0 } } };
    a = await startTestApp(cfg, { workers: false });
    b = await startTestApp(cfg, { workers: false, db: a.db, prefix: a.config.redis.prefix });
  }, 60_000);
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  it("admissions, batched settles (claim, extend, succeed) and cancels from both: no error reaches a caller, the ledger stays whole", async () => {
    await a.app.ds.query(`INSERT INTO users (id, email, role, tier) SELECT gen_random_uuid(), 'filler-' || i || '@test.local', 'USER', 'free' FROM generate_series(1, 5000) i`);
    await a.app.ds.query(`INSERT INTO quota_periods (user_id, period_start, period_end, limit_micros) SELECT id, date_trunc('month', now()), date_trunc('month', now()) + interval '1 month', 1000000 FROM users WHERE email LIKE 'filler-%'`);
    await a.app.ds.query(`ANALYZE users; ANALYZE quota_periods`);
    const users = await Promise.all(Array.from({ length: 48 }, () => a.createUser(undefined, { tier: "enterprise" })));
    const viewers: Viewer[] = users.map((u, i) => ({ userId: u.id, role: "USER", tier: "enterprise", apiKeyId: null, requestId: `burst-${i}` }));
    const nodes = [a, b].map((t) => ({ t, store: new GenerationStore(t.app.ds) }));
    const queued: string[] = [];
    const errors: string[] = [];
    const fail = (what: string) => (e: unknown) => void errors.push(`${what}: ${(e as Error).message}`);
    const deadline = Date.now() + 15_000;
    let created = 0;

    const admitter = async (n: number, s: number) => {
      for (let k = 0; Date.now() < deadline; k++) {
        const v = viewers[(s * 5 + k * 11 + n * 17) % viewers.length];
        await nodes[n].t.app.services.generations
          .create(v, { modality: "TEXT", model: "simulated/text", prompt: `n${n} s${s} k${k}` })
          .then((g) => (queued.push(g.id), created++), fail("create"));
      }
    };
    // A worker's settle batch: many users' generations claimed and succeeded in one turn.
    const settler = async (n: number) => {
      const { t, store } = nodes[n];
      while (Date.now() < deadline) {
        const batch = queued.splice(0, 24);
        if (!batch.length) {
          await new Promise((r) => setTimeout(r, 2));
          continue;
        }
        await Promise.all(
          batch.map(async (id, j) => {
            const c = await store.claim(id);
            if (!c) return;
            if (j % 3 === 0 && !(await t.app.services.quotas.extend(c.gen, c.attemptNo + 1))) return;
            await store.succeed({ gen: c.gen, attemptNo: c.attemptNo, output: { text: "ok" }, latencyMs: 1, costMicros: 7 });
          }).map((p) => p.catch(fail("settle"))),
        );
      }
    };
    const canceller = async (n: number) => {
      while (Date.now() < deadline) {
        const id = queued.pop();
        if (!id) {
          await new Promise((r) => setTimeout(r, 2));
          continue;
        }
        const owner = (await a.app.ds.query(`SELECT user_id FROM generations WHERE id = $1`, [id]))[0].user_id;
        await nodes[n].t.app.services.generations.cancel(viewers.find((v) => v.userId === owner)!, id).catch((e) => {
          if (e?.extensions?.code !== "CONFLICT") fail("cancel")(e);
        });
      }
    };
    // The sweeper's expiry (and a failed leader's followers): one statement releasing many users' generations.
    const expirer = async (n: number) => {
      while (Date.now() < deadline) {
        const batch = queued.splice(-16, 16);
        if (!batch.length) {
          await new Promise((r) => setTimeout(r, 2));
          continue;
        }
        await nodes[n].store.expire({ ids: batch }).catch(fail("expire"));
      }
    };
    const before = await deadlocks();
    await Promise.all([0, 1].flatMap((n) => [...Array.from({ length: 24 }, (_, s) => admitter(n, s)), settler(n), settler(n), canceller(n), expirer(n)]));
    // Whatever is left queued is cancelled, so every reservation must come back.
    for (const id of await a.app.ds.query(`SELECT id, user_id FROM generations WHERE status IN ('QUEUED','RUNNING')`))
      await a.app.services.generations.cancel(viewers.find((v) => v.userId === id.user_id)!, id.id);
    await new Promise((r) => setTimeout(r, 11_000));
    expect([...new Set(errors)]).toEqual([]);
    expect(created).toBeGreaterThan(200);
    expect((await deadlocks()) - before).toBe(0);
    expect((await a.app.services.quotas.verify()).mismatches).toEqual([]);
    const [sums] = await a.app.ds.query(`
      SELECT (SELECT COALESCE(SUM(amount_micros), 0) FROM spend_ledger WHERE kind = 'charge')::bigint AS ledger,
             (SELECT COALESCE(SUM(cost_micros), 0) FROM generation_attempts)::bigint AS charges,
             (SELECT COALESCE(SUM(reserved_micros), 0) FROM quota_periods)::bigint AS reserved`);
    expect(Number(sums.ledger)).toBe(Number(sums.charges));
    expect(Number(sums.reserved)).toBe(0);
  }, 300_000);
});
