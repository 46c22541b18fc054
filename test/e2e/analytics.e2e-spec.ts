import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bucketOf, bucketRange } from "../../src/domain/analytics/histogram";
import { AnalyticsService } from "../../src/domain/analytics/analytics.service";
import { RollupService } from "../../src/domain/analytics/rollup.service";
import { systemViewer } from "../../src/domain/viewer";
import { createRollupWorker, scheduleRollups } from "../../src/jobs/rollup.processor";
import { createLogger } from "../../src/observability/logger";
import { REDIS_URL, createTestDatabase, dropRedisPrefix, uniquePrefix, type TestDatabase } from "../helpers/infra";
import { startTestApp, type GqlResult, type TestApp } from "../helpers/test-app";

const METRICS = `
  query($from: DateTime, $to: DateTime, $groupBy: MetricsGroupBy, $userId: ID) {
    metrics(from: $from, to: $to, groupBy: $groupBy, userId: $userId) {
      from to userId groupBy source exactPercentiles rolledUpTo interval
      total { ...S }
      groups { key stats { ...S } }
      series { at stats { requests failed costUsd } }
      topModelsByUse { key stats { requests costUsd } }
      topModelsByCost { key stats { requests costUsd } }
    }
  }
  fragment S on MetricsStats {
    requests succeeded failed cancelled inProgress successRate failureRate errors { code count }
    attempts retries cacheHits cacheHitRate costUsd
    latencyMs { samples p50 p95 p99 } queueWaitMs { samples p50 p95 p99 }
  }`;

const HOUR = 3_600_000;
const now = new Date();
const H0 = Math.floor(now.getTime() / HOUR) * HOUR;
const h1 = H0 - 5 * HOUR; // alice's hour
const h2 = H0 - 4 * HOUR; // bob's hour
const min = (n: number) => n * 60_000;

interface Row {
  user: "alice" | "bob";
  at: number;
  status: "QUEUED" | "RUNNING" | "SUCCEEDED" | "FAILED" | "CANCELLED";
  provider: string | null;
  providerModel: string | null;
  model: string;
  modality?: string;
  cached?: boolean;
  costMicros?: number | null;
  /** started − created, ms (undefined: never started) */
  qw?: number;
  /** completed − started, ms (undefined: not completed after starting) */
  lat?: number;
  code?: string;
  attempts?: string[];
}

// The hand-made dataset: every figure asserted below follows from these rows.
const ROWS: Row[] = [
  { user: "alice", at: h1 + min(1), status: "SUCCEEDED", provider: "simulated", providerModel: "text", model: "simulated/text", costMicros: 1000, qw: 50, lat: 100, attempts: ["SUCCEEDED"] },
  { user: "alice", at: h1 + min(2), status: "SUCCEEDED", provider: "simulated", providerModel: "text", model: "simulated/text", costMicros: 3000, qw: 150, lat: 300, attempts: ["FAILED", "SUCCEEDED"] },
  { user: "alice", at: h1 + min(3), status: "SUCCEEDED", provider: "openai", providerModel: "gpt-4o", model: "auto", costMicros: 20000, qw: 250, lat: 500, attempts: ["SUCCEEDED"] },
  { user: "alice", at: h1 + min(4), status: "FAILED", provider: "openai", providerModel: "gpt-4o", model: "openai/gpt-4o", costMicros: 0, qw: 100, lat: 700, code: "RATE_LIMITED", attempts: ["FAILED", "FAILED", "FAILED"] },
  { user: "alice", at: h1 + min(5), status: "SUCCEEDED", provider: "simulated", providerModel: "text", model: "simulated/text", cached: true, costMicros: 0 },
  { user: "alice", at: h1 + min(6), status: "CANCELLED", provider: "simulated", providerModel: "image", model: "simulated/image", modality: "IMAGE", costMicros: 0, code: "CANCELLED" },
  { user: "bob", at: h2 + min(1), status: "SUCCEEDED", provider: "anthropic", providerModel: "claude-sonnet", model: "anthropic/claude-sonnet", costMicros: 50000, qw: 200, lat: 900, attempts: ["SUCCEEDED"] },
  { user: "bob", at: h2 + min(2), status: "FAILED", provider: "anthropic", providerModel: "claude-sonnet", model: "anthropic/claude-sonnet", costMicros: 0, qw: 300, lat: 1000, code: "PROVIDER_UNAVAILABLE", attempts: ["FAILED", "SKIPPED", "FAILED"] },
  { user: "bob", at: h2 + min(3), status: "SUCCEEDED", provider: "simulated", providerModel: "text", model: "simulated/text", costMicros: 2000, qw: 400, lat: 200, attempts: ["SUCCEEDED"] },
  { user: "bob", at: h2 + min(4), status: "RUNNING", provider: "simulated", providerModel: "text", model: "simulated/text", costMicros: null, qw: 350, attempts: ["RUNNING"] },
  { user: "bob", at: h2 + min(5), status: "FAILED", provider: null, providerModel: null, model: "auto", costMicros: 0, code: "NO_ROUTE" },
  // the not-yet-rolled-up tail
  { user: "bob", at: now.getTime() - min(2), status: "SUCCEEDED", provider: "simulated", providerModel: "text", model: "simulated/text", costMicros: 4000, qw: 600, lat: 400, attempts: ["SUCCEEDED"] },
  // outside every range queried below
  { user: "alice", at: now.getTime() - 5 * 24 * HOUR, status: "SUCCEEDED", provider: "simulated", providerModel: "text", model: "simulated/text", costMicros: 999_000, qw: 1, lat: 1, attempts: ["SUCCEEDED"] },
];

const LATENCIES = [100, 300, 500, 700, 900, 1000, 200, 400];
const QUEUE_WAITS = [50, 150, 250, 100, 200, 300, 400, 350, 600];

/** percentile_cont */
function cont(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  const r = p * (s.length - 1);
  const lo = Math.floor(r);
  return s[lo] + (r - lo) * (s[Math.ceil(r)] - s[lo]);
}
/** An estimate from histograms must lie between the buckets of the two neighbours percentile_cont interpolates. */
function expectWithinBuckets(est: number, values: number[], p: number) {
  const s = [...values].sort((a, b) => a - b);
  const r = p * (s.length - 1);
  expect(est).toBeGreaterThanOrEqual(bucketRange(bucketOf(s[Math.floor(r)]))[0]);
  expect(est).toBeLessThanOrEqual(bucketRange(bucketOf(s[Math.ceil(r)]))[1]);
}
function expectExact(got: { samples: number; p50: number; p95: number; p99: number }, values: number[]) {
  expect(got.samples).toBe(values.length);
  expect(got.p50).toBeCloseTo(cont(values, 0.5), 6);
  expect(got.p95).toBeCloseTo(cont(values, 0.95), 6);
  expect(got.p99).toBeCloseTo(cont(values, 0.99), 6);
}

type M = Record<string, any>;

describe("analytics: metrics", () => {
  let t: TestApp;
  const users: Record<"alice" | "bob", { id: string; key: string }> = {} as never;
  let rollups: RollupService;
  let generationIds: string[] = [];

  async function metrics(key: string | null, vars: Record<string, unknown> = {}): Promise<GqlResult<{ metrics: M }>> {
    return t.gql<{ metrics: M }>(key, METRICS, vars);
  }
  async function ok(key: string, vars: Record<string, unknown> = {}): Promise<M> {
    const res = await metrics(key, vars);
    expect(res.errors).toBeUndefined();
    return res.data!.metrics;
  }
  const group = (m: M, key: string | null) => m.groups.find((g: M) => g.key === key)?.stats;
  const longRange = { from: new Date(H0 - 60 * HOUR).toISOString(), to: now.toISOString() };

  beforeAll(async () => {
    t = await startTestApp({ analytics: { rollupIntervalMs: 0 } }, { workers: false });
    users.alice = await t.createUser();
    users.bob = await t.createUser();
    rollups = new RollupService(t.app.ds, { dirtyLookbackMs: 7 * 24 * HOUR });
    await t.app.ds.transaction(async (m) => {
      for (const r of ROWS) {
        const id = randomUUID();
        generationIds.push(id);
        const created = new Date(r.at);
        const started = r.cached ? created : r.qw !== undefined ? new Date(r.at + r.qw) : null;
        const completed = r.cached ? created : started && r.lat !== undefined ? new Date(started.getTime() + r.lat) : ["FAILED", "CANCELLED"].includes(r.status) ? new Date(r.at + 5000) : null;
        await m.query(
          `INSERT INTO generations (id, user_id, status, modality, model, provider, provider_model, priority, cached, estimated_cost_micros, cost_micros,
                                    error_code, created_at, updated_at, started_at, completed_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, 'NORMAL', $8, 0, $9, $10, $11, $11, $12, $13)`,
          [id, users[r.user].id, r.status, r.modality ?? "TEXT", r.model, r.provider, r.providerModel, !!r.cached, r.costMicros ?? null, r.code ?? null, created, started, completed],
        );
        for (const [i, status] of (r.attempts ?? []).entries()) {
          await m.query(
            `INSERT INTO generation_attempts (id, generation_id, attempt_no, provider, model, status, cost_micros, created_at) VALUES ($1, $2, $3, $4, $5, $6, 0, $7)`,
            [randomUUID(), id, i + 1, r.provider, r.providerModel, status, created],
          );
        }
      }
    });
  });
  afterAll(async () => {
    await t?.close();
  });

  it("admin, default range (last 24 h): exact figures from raw rows", async () => {
    const m = await ok(t.adminKey);
    expect(m).toMatchObject({ userId: null, groupBy: null, source: "RAW", exactPercentiles: true, rolledUpTo: null, interval: "HOUR" });
    expect(new Date(m.to).getTime() - new Date(m.from).getTime()).toBe(24 * HOUR);
    expect(m.total).toMatchObject({
      requests: 12, succeeded: 7, failed: 3, cancelled: 1, inProgress: 1, attempts: 13, retries: 4, cacheHits: 1, costUsd: 0.08,
      errors: [{ code: "NO_ROUTE", count: 1 }, { code: "PROVIDER_UNAVAILABLE", count: 1 }, { code: "RATE_LIMITED", count: 1 }],
    });
    expect(m.total.successRate).toBeCloseTo(7 / 11, 12);
    expect(m.total.failureRate).toBeCloseTo(3 / 11, 12);
    expect(m.total.cacheHitRate).toBeCloseTo(1 / 12, 12);
    expectExact(m.total.latencyMs, LATENCIES);
    expectExact(m.total.queueWaitMs, QUEUE_WAITS);
    expect([m.total.latencyMs.p50, m.total.latencyMs.p95, m.total.latencyMs.p99].map((x: number) => Math.round(x * 1e6) / 1e6)).toEqual([450, 965, 993]);
    expect([m.total.queueWaitMs.p50, m.total.queueWaitMs.p95, m.total.queueWaitMs.p99].map((x: number) => Math.round(x * 1e6) / 1e6)).toEqual([250, 520, 584]);
    // without groupBy: one group, the total
    expect(m.groups).toEqual([{ key: null, stats: m.total }]);
  });

  it("groups by provider, model and user; ranks models by use and by cost", async () => {
    const p = await ok(t.adminKey, { groupBy: "PROVIDER" });
    expect(p.groups.map((g: M) => [g.key, g.stats.requests, g.stats.costUsd])).toEqual([
      ["simulated", 7, 0.01], ["anthropic", 2, 0.05], ["openai", 2, 0.02], [null, 1, 0],
    ]);
    expect(group(p, "simulated")).toMatchObject({ succeeded: 5, cancelled: 1, inProgress: 1, cacheHits: 1, attempts: 6, retries: 1, errors: [] });
    expect(group(p, "openai")).toMatchObject({ failed: 1, attempts: 4, retries: 2, errors: [{ code: "RATE_LIMITED", count: 1 }], failureRate: 0.5 });
    expectExact(group(p, "openai").latencyMs, [500, 700]);
    expectExact(group(p, "simulated").latencyMs, [100, 300, 200, 400]);
    expect(group(p, null)).toMatchObject({ failed: 1, errors: [{ code: "NO_ROUTE", count: 1 }], latencyMs: { samples: 0, p50: null } });

    const m = await ok(t.adminKey, { groupBy: "MODEL" });
    expect(m.groups.map((g: M) => [g.key, g.stats.requests])).toEqual([
      ["simulated/text", 6], ["anthropic/claude-sonnet", 2], ["openai/gpt-4o", 2], ["auto", 1], ["simulated/image", 1],
    ]);
    expect(m.topModelsByUse.map((g: M) => g.key)).toEqual(["simulated/text", "anthropic/claude-sonnet", "openai/gpt-4o", "auto", "simulated/image"]);
    expect(m.topModelsByCost.map((g: M) => [g.key, g.stats.costUsd])).toEqual([
      ["anthropic/claude-sonnet", 0.05], ["openai/gpt-4o", 0.02], ["simulated/text", 0.01], ["auto", 0], ["simulated/image", 0],
    ]);
    expect(p.topModelsByUse).toEqual(m.topModelsByUse);

    const u = await ok(t.adminKey, { groupBy: "USER" });
    expect(u.groups.map((g: M) => g.key).sort()).toEqual([users.alice.id, users.bob.id].sort());
    expect(group(u, users.alice.id)).toMatchObject({ requests: 6, succeeded: 4, failed: 1, cancelled: 1, attempts: 7, retries: 3, costUsd: 0.024 });
    expect(group(u, users.bob.id)).toMatchObject({ requests: 6, succeeded: 3, failed: 2, inProgress: 1, attempts: 6, retries: 1, costUsd: 0.056 });
  });

  it("charts every hour of the range and groups by HOUR and DAY (UTC bucket starts)", async () => {
    const m = await ok(t.adminKey, { groupBy: "HOUR" });
    expect(m.series.length).toBe(25); // 24 h from an unaligned start touch 25 hours
    const at = (ms: number) => m.series.find((s: M) => s.at === new Date(ms).toISOString())?.stats;
    expect(at(h1)).toEqual({ requests: 6, failed: 1, costUsd: 0.024 });
    expect(at(h2)).toEqual({ requests: 5, failed: 2, costUsd: 0.052 });
    expect(m.series.reduce((s: number, p: M) => s + p.stats.requests, 0)).toBe(12);
    expect(m.groups.map((g: M) => g.key).slice(0, 2)).toEqual([new Date(h1).toISOString(), new Date(h2).toISOString()]);
    expect(group(m, new Date(h1).toISOString())).toMatchObject({ requests: 6 });

    const d = await ok(t.adminKey, { groupBy: "DAY", from: new Date(H0 - 10 * 24 * HOUR).toISOString(), to: now.toISOString() });
    expect(d.interval).toBe("DAY");
    expect(d.series.length).toBe(11);
    expect(d.groups.reduce((s: number, g: M) => s + g.stats.requests, 0)).toBe(13); // the 5-day-old row too
    for (const g of d.groups) expect(g.key).toMatch(/T00:00:00\.000Z$/);
  });

  it("a user sees only their own; another user's id is FORBIDDEN; an admin can filter by user", async () => {
    const a = await ok(users.alice.key);
    expect(a).toMatchObject({ userId: users.alice.id, total: { requests: 6, costUsd: 0.024, errors: [{ code: "RATE_LIMITED", count: 1 }] } });
    expectExact(a.total.latencyMs, [100, 300, 500, 700]);
    expectExact(a.total.queueWaitMs, [50, 150, 250, 100]);
    expect((await ok(users.alice.key, { userId: users.alice.id })).total.requests).toBe(6);
    expect((await ok(users.alice.key, { groupBy: "USER" })).groups.map((g: M) => g.key)).toEqual([users.alice.id]);

    const denied = await metrics(users.alice.key, { userId: users.bob.id });
    expect(denied.errors?.[0].extensions?.code).toBe("FORBIDDEN");
    expect(denied.data).toBeNull();

    const b = await ok(t.adminKey, { userId: users.bob.id, groupBy: "PROVIDER" });
    expect(b.userId).toBe(users.bob.id);
    expect(b.total).toMatchObject({ requests: 6, costUsd: 0.056, inProgress: 1 });
    expectExact(b.total.latencyMs, [900, 1000, 200, 400]);
    expect(b.groups.map((g: M) => [g.key, g.stats.requests])).toEqual([["simulated", 3], ["anthropic", 2], [null, 1]]);

    expect((await metrics(null, {})).errors?.[0].extensions?.code).toBe("UNAUTHENTICATED");
  });

  it("refuses bad ranges with BAD_USER_INPUT", async () => {
    const code = async (vars: Record<string, unknown>) => (await metrics(t.adminKey, vars)).errors?.[0].extensions?.code;
    expect(await code({ from: now.toISOString(), to: now.toISOString() })).toBe("BAD_USER_INPUT");
    expect(await code({ from: now.toISOString(), to: new Date(H0 - HOUR).toISOString() })).toBe("BAD_USER_INPUT");
    expect(await code({ from: new Date(now.getTime() - 401 * 24 * HOUR).toISOString() })).toBe("BAD_USER_INPUT");
    expect(await code({ userId: "not-a-user-id" })).toBe("BAD_USER_INPUT");
  });

  it("long ranges fall back to raw rows until hours are rolled up", async () => {
    const m = await ok(t.adminKey, longRange);
    expect(m).toMatchObject({ source: "RAW", exactPercentiles: true, interval: "HOUR", total: { requests: 12 } });
  });

  it("the repeatable job rolls up finished hours; long ranges then read ROLLUP with the same counts and costs", async () => {
    const prefix = uniquePrefix();
    const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const settings = { connection, prefix, everyMs: 60_000 };
    const queue = await scheduleRollups(settings);
    const worker = createRollupWorker(rollups, settings, createLogger("silent"));
    try {
      const deadline = Date.now() + 15_000;
      while (!(await rollups.rolledUpTo()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    } finally {
      await worker.close();
      await queue.close();
      connection.disconnect();
      await dropRedisPrefix(prefix);
    }
    const watermark = await rollups.rolledUpTo();
    expect(watermark!.getTime()).toBe(Math.floor((Date.now() - 5 * 60_000) / HOUR) * HOUR);

    const raw = await ok(t.adminKey, { groupBy: "PROVIDER" });
    const m = await ok(t.adminKey, { ...longRange, groupBy: "PROVIDER" });
    expect(m).toMatchObject({ source: "ROLLUP", exactPercentiles: false, rolledUpTo: watermark!.toISOString() });
    const { latencyMs, queueWaitMs, ...counts } = m.total;
    const { latencyMs: rawLatency, queueWaitMs: rawWait, ...rawCounts } = raw.total;
    expect(counts).toEqual(rawCounts);
    expect(m.groups.map((g: M) => [g.key, g.stats.requests, g.stats.costUsd, g.stats.errors, g.stats.retries])).toEqual(
      raw.groups.map((g: M) => [g.key, g.stats.requests, g.stats.costUsd, g.stats.errors, g.stats.retries]),
    );
    expect(m.topModelsByCost).toEqual(raw.topModelsByCost);
    expect([latencyMs.samples, queueWaitMs.samples]).toEqual([rawLatency.samples, rawWait.samples]);
    for (const p of [0.5, 0.95, 0.99] as const) {
      const f = `p${Math.round(p * 100)}`;
      expectWithinBuckets(latencyMs[f], LATENCIES, p);
      expectWithinBuckets(queueWaitMs[f], QUEUE_WAITS, p);
    }
    const at = (ms: number) => m.series.find((s: M) => s.at === new Date(ms).toISOString())?.stats;
    expect(at(h1)).toEqual({ requests: 6, failed: 1, costUsd: 0.024 });
    expect(at(h2)).toEqual({ requests: 5, failed: 2, costUsd: 0.052 });

    // ranges over 7 days are charted by day and read whole days from the daily all-users rollup
    const tenDays = { from: new Date(H0 - 10 * 24 * HOUR + 17 * 60_000).toISOString(), to: now.toISOString() };
    const exact = new AnalyticsService(t.app.ds, { rawMaxHours: 24 * 400 });
    for (const groupBy of ["PROVIDER", "MODEL", "DAY", null] as const) {
      const viaRollups = await ok(t.adminKey, { ...tenDays, groupBy });
      expect(viaRollups).toMatchObject({ source: "ROLLUP", interval: "DAY" });
      const reference = await exact.metrics(systemViewer(), { from: new Date(tenDays.from), to: new Date(tenDays.to), groupBy });
      expect(reference.source).toBe("RAW");
      const counts = (s: M) => [s.requests, s.succeeded, s.failed, s.cancelled, s.inProgress, s.cacheHits, s.attempts, s.retries, s.errors, s.latencyMs.samples];
      expect(viaRollups.total.requests).toBe(13);
      expect(viaRollups.groups.map((g: M) => [g.key, counts(g.stats), g.stats.costUsd])).toEqual(
        reference.groups.map((g) => [g.key, counts(g.stats), g.stats.costMicros / 1e6]),
      );
      expect(viaRollups.series.map((p: M) => [p.at, p.stats.requests, p.stats.costUsd])).toEqual(
        reference.series.map((p) => [p.at.toISOString(), p.stats.requests, p.stats.costMicros / 1e6]),
      );
    }

    // per-user rollups: a user's own view, an admin's filter, and grouping by user
    const a = await ok(users.alice.key, longRange);
    expect(a).toMatchObject({ source: "ROLLUP", total: { requests: 6, succeeded: 4, attempts: 7, retries: 3, costUsd: 0.024, errors: [{ code: "RATE_LIMITED", count: 1 }] } });
    expectWithinBuckets(a.total.latencyMs.p50, [100, 300, 500, 700], 0.5);
    const b = await ok(t.adminKey, { ...longRange, userId: users.bob.id });
    expect(b).toMatchObject({ source: "ROLLUP", total: { requests: 6, inProgress: 1, costUsd: 0.056 } });
    const u = await ok(t.adminKey, { ...longRange, groupBy: "USER" });
    expect(group(u, users.bob.id)).toMatchObject({ requests: 6, retries: 1, errors: [{ code: "NO_ROUTE", count: 1 }, { code: "PROVIDER_UNAVAILABLE", count: 1 }] });
  });

  it("recomputing an hour replaces it (idempotent), and hours with in-flight generations are re-rolled once they finish", async () => {
    const snapshot = () => t.app.ds.query(`SELECT * FROM analytics_hourly ORDER BY hour, user_id, provider NULLS LAST, model`);
    const before = await snapshot();
    expect(before.length).toBeGreaterThan(0);
    await rollups.rebuild(new Date(h1 - 24 * HOUR), now);
    const again = await rollups.rollUp();
    expect(again.hours).toBe(0);
    expect(await snapshot()).toEqual(before);

    // bob's RUNNING generation finishes after its hour was rolled up
    const running = generationIds[9];
    await t.app.ds.query(`UPDATE generations SET status = 'SUCCEEDED', completed_at = started_at + interval '800 milliseconds', cost_micros = 7000 WHERE id = $1`, [running]);
    await t.app.ds.query(`UPDATE generation_attempts SET status = 'SUCCEEDED' WHERE generation_id = $1`, [running]);
    const run = await rollups.rollUp();
    expect(run.recomputed).toBeGreaterThanOrEqual(1);
    const m = await ok(t.adminKey, longRange);
    expect(m.source).toBe("ROLLUP");
    expect(m.total).toMatchObject({ requests: 12, succeeded: 8, inProgress: 0, costUsd: 0.087 });
    expect(m.total.latencyMs.samples).toBe(9);
    expectWithinBuckets(m.total.latencyMs.p50, [...LATENCIES, 800], 0.5);
  });

  it("reads from DATABASE_READ_URL when it is set", async () => {
    let replica: TestDatabase | undefined;
    let other: TestApp | undefined;
    try {
      replica = await createTestDatabase();
      other = await startTestApp({ db: { readUrl: replica.url }, analytics: { rollupIntervalMs: 0 } }, { db: t.db, workers: false });
      const m = (await other.gql<{ metrics: M }>(other.adminKey, METRICS, {})).data!.metrics;
      expect(m.total.requests).toBe(0); // the "replica" is an empty database; the primary has 12
      expect((await ok(t.adminKey)).total.requests).toBe(12);
    } finally {
      await other?.close();
      await replica?.drop();
    }
  });
});
