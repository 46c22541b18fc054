/**
 * Redis loses its data (FLUSHALL, a restart without persistence) while generations are in
 * flight: every process notices and re-creates its periodic schedulers, so the sweep brings
 * every lost job back within SWEEP_INTERVAL_MS + SWEEP_GRACE_MS, with no restart. Only this
 * suite's own prefix is deleted (other suites share the Redis database).
 */
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ScheduledQueue } from "../../src/jobs/kept-schedulers";
import { MAINTENANCE_QUEUE } from "../../src/jobs/queues";
import { ANALYTICS_QUEUE } from "../../src/jobs/rollup.processor";
import { dropRedisPrefix, REDIS_URL, uniquePrefix } from "../helpers/infra";
import { until } from "../helpers/quota";
import { startTestApp, type TestApp } from "../helpers/test-app";

const CREATE = `mutation($input: CreateGenerationInput!) { createGeneration(input: $input) { id status } }`;
const INTERVAL_MS = 1000;
const GRACE_MS = 2000;
const N = 40;

describe("recovery after Redis loses its data", () => {
  let t: TestApp;
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });

  beforeAll(async () => {
    t = await startTestApp({
      sweeper: { intervalMs: INTERVAL_MS, graceMs: GRACE_MS },
      worker: { concurrency: 8 },
      analytics: { rollupIntervalMs: 60_000 },
    });
  });
  afterAll(async () => {
    await t?.close();
    redis.disconnect();
  });

  const statuses = async (ids: string[]) => {
    const rows: { status: string; n: number }[] = await t.app.ds.query(
      `SELECT status, count(*)::int AS n FROM generations WHERE id = ANY($1) GROUP BY status`, [ids],
    );
    return Object.fromEntries(rows.map((r) => [r.status, r.n])) as Record<string, number>;
  };

  it("every in-flight generation succeeds, with no reservation left and no restart", async () => {
    const { key } = await t.createUser(undefined, { tier: "enterprise" });
    const ids: string[] = [];
    for (let i = 0; i < N; i++) {
      const res = await t.gql(key, CREATE, {
        input: { modality: "TEXT", model: "simulated/text", prompt: `flush me ${i} ${Math.random()}`, params: { simulate: { latencyMs: 1500, steps: 3 } } },
      });
      expect(res.errors).toBeUndefined();
      ids.push(res.data!.createGeneration.id);
    }
    // Some are running, the rest wait in the queue: then Redis loses everything of ours.
    await until(() => statuses(ids), (s) => (s.RUNNING ?? 0) > 0, 20_000);
    const before = await statuses(ids);
    expect(before.QUEUED ?? 0).toBeGreaterThan(0);
    await dropRedisPrefix(t.config.redis.prefix);
    const flushedAt = Date.now();

    // Repaired within SWEEP_INTERVAL_MS + SWEEP_GRACE_MS: every generation has a job again (or has ended).
    const lost = async () => {
      const open: { id: string }[] = await t.app.ds.query(`SELECT id FROM generations WHERE id = ANY($1) AND status IN ('QUEUED','RUNNING')`, [ids]);
      const states = await Promise.all(open.map((g) => t.app.queue.state(g.id)));
      return states.filter((s) => s === "missing" || s === "failed" || s === "completed").length;
    };
    await until(lost, (n) => n === 0, INTERVAL_MS + GRACE_MS + 10_000); // slack for a loaded machine
    const repairedMs = Date.now() - flushedAt;

    // Repaired: the schedulers are back and every generation ends, all SUCCEEDED. Generous slack for a loaded machine
    // (the work itself takes N × 1.5 s / 8 slots ≈ 8 s), but without the repair they stay QUEUED forever.
    const after = await until(() => statuses(ids), (s) => (s.SUCCEEDED ?? 0) + (s.FAILED ?? 0) + (s.CANCELLED ?? 0) === N, INTERVAL_MS + GRACE_MS + 45_000);
    expect(after).toEqual({ SUCCEEDED: N });
    console.info(`Redis prefix deleted with ${before.QUEUED} queued and ${before.RUNNING} running: every job back after ${repairedMs} ms, all ${N} SUCCEEDED after ${Date.now() - flushedAt} ms`);

    // Zero reservations left, balances rebuilt from the ledger agree, one charge per generation.
    const [held] = await t.app.ds.query(`SELECT COALESCE(SUM(reserved_micros), 0)::bigint AS n FROM quota_periods`);
    expect(Number(held.n)).toBe(0);
    const [unreleased] = await t.app.ds.query(
      `SELECT count(*)::int AS n FROM generations g WHERE g.id = ANY($1) AND g.reserved_micros > 0
          AND NOT EXISTS (SELECT 1 FROM spend_ledger l WHERE l.generation_id = g.id AND l.kind = 'release')`, [ids],
    );
    expect(unreleased.n).toBe(0);
    expect((await t.app.services.quotas.verify()).mismatches).toEqual([]);
    const [charges] = await t.app.ds.query(
      `SELECT count(*)::int AS n, count(DISTINCT generation_id)::int AS g FROM spend_ledger WHERE kind = 'charge' AND generation_id = ANY($1) AND amount_micros > 0`, [ids],
    );
    expect(charges.g).toBe(N);

    // The periodic chores exist again in Redis (sweep, retention, rollup).
    const maintenance = new Queue(MAINTENANCE_QUEUE, { connection: redis, prefix: t.config.redis.prefix });
    const analytics = new Queue(ANALYTICS_QUEUE, { connection: redis, prefix: t.config.redis.prefix });
    try {
      expect((await maintenance.getJobSchedulers()).map((s) => s.key).sort()).toEqual(["retention", "sweep"]);
      expect((await analytics.getJobSchedulers()).map((s) => s.key)).toEqual(["rollup"]);
    } finally {
      await maintenance.close();
      await analytics.close();
    }
  }, 120_000);
});

describe("ScheduledQueue.repair", () => {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const prefix = uniquePrefix();
  afterAll(async () => {
    await dropRedisPrefix(prefix);
    redis.disconnect();
  });

  it("re-creates a missing scheduler, re-asserts one whose next job is long overdue, and leaves a healthy one alone", async () => {
    const q = new ScheduledQueue("kept", { connection: redis, prefix }, [{ id: "a", everyMs: 60_000 }, { id: "b", everyMs: 60_000 }]);
    try {
      await q.upsertAll();
      expect(await q.repair(1000)).toEqual([]);
      await q.removeJobScheduler("a");
      expect(await q.repair(1000)).toEqual(["a"]);
      expect(await q.getJobScheduler("a")).toBeTruthy();
      // The entry survived but says its next run was due two intervals ago (its job was lost).
      await redis.zadd(`${prefix}:kept:repeat`, Date.now() - 120_000, "b");
      expect(await q.repair(1000)).toEqual(["b"]);
      expect(Number((await q.getJobScheduler("b"))!.next)).toBeGreaterThan(Date.now() - 60_000);
      expect(await q.repair(1000)).toEqual([]);
    } finally {
      await q.close();
    }
  });
});
