/**
 * `npm run bench:analytics`: the `metrics` query as history grows. Seeds a throwaway
 * database with BENCH_ANALYTICS_ROWS (1,000,000) generations over 60 days — 500 users
 * with skewed activity, 6 providers × 4 models, retries, failures, cache hits — and
 * their attempts (generate_series SQL), builds the hourly rollups from scratch, then
 * times a 30-day `metrics(groupBy: PROVIDER)` as an admin through the service and
 * through the GraphQL schema (execution without HTTP). Prints JSON; drops the database
 * (BENCH_KEEP_DB=1 keeps it for EXPLAIN; drop it yourself afterwards).
 */
import "reflect-metadata";
import { graphql } from "graphql";
import { buildAppSchema } from "../src/api/schema";
import { createDataSource } from "../src/db/data-source";
import { AnalyticsService, type MetricsQuery } from "../src/domain/analytics/analytics.service";
import { RollupService } from "../src/domain/analytics/rollup.service";
import { systemViewer, type Viewer } from "../src/domain/viewer";
import { createTestDatabase } from "../test/helpers/infra";

const ROWS = Number(process.env.BENCH_ANALYTICS_ROWS ?? 1_000_000);
const ITERATIONS = Number(process.env.BENCH_ANALYTICS_ITERATIONS ?? 30);
const USERS = 500;
const DAY = 86_400_000;

const PROVIDERS = ["openai", "anthropic", "openrouter", "groq", "huggingface", "minimax"];
// 4 models per provider; the model's index decides its modality and price.
const MODALITIES = ["TEXT", "TEXT", "IMAGE", "EMBEDDING"];

async function main() {
  const db = await createTestDatabase();
  const ds = createDataSource({ url: db.url, poolSize: 4 });
  await ds.initialize();
  try {
    const t0 = performance.now();
    await seed(ds);
    const seedMs = performance.now() - t0;

    const rollups = new RollupService(ds, { dirtyLookbackMs: DAY + 3_600_000 });
    const r0 = performance.now();
    const run = await rollups.rollUp();
    const rollupBuildMs = performance.now() - r0;
    await ds.query(`VACUUM ANALYZE analytics_hourly`);
    await ds.query(`VACUUM ANALYZE analytics_hourly_all`);
    await ds.query(`VACUUM ANALYZE analytics_hourly_errors`);
    const rollupRows = (await ds.query(`SELECT (SELECT count(*) FROM analytics_hourly)::int AS per_user, (SELECT count(*) FROM analytics_hourly_all)::int AS all_users`))[0];

    const analytics = new AnalyticsService(ds, { rawMaxHours: 48 });
    const admin = systemViewer("bench");
    const now = Date.now();
    const thirtyDays: MetricsQuery = { from: new Date(now - 30 * DAY), to: new Date(now), groupBy: "PROVIDER" };
    const service = await time(() => analytics.metrics(admin, thirtyDays));
    const first = await analytics.metrics(admin, thirtyDays);

    const schema = await buildAppSchema();
    const source = `query($from: DateTime, $to: DateTime) { metrics(from: $from, to: $to, groupBy: PROVIDER) {
      source exactPercentiles total { requests failed costUsd latencyMs { p50 p95 p99 } queueWaitMs { p50 p95 p99 } errors { code count } }
      groups { key stats { requests successRate failureRate retries cacheHitRate costUsd latencyMs { p50 p95 p99 } errors { code count } } }
      series { at stats { requests failed costUsd latencyMs { p95 } } }
      topModelsByUse { key stats { requests } } topModelsByCost { key stats { costUsd } } } }`;
    const contextValue = { viewer: admin, services: { analytics }, requestId: "bench" };
    const viaGraphql = await time(async () => {
      const res = await graphql({ schema, source, contextValue, variableValues: { from: thirtyDays.from!.toISOString(), to: thirtyDays.to!.toISOString() } });
      if (res.errors) throw res.errors[0];
    });

    // Other shapes, for reference.
    const user: Viewer = { ...admin, role: "USER", userId: (await ds.query(`SELECT id FROM users ORDER BY email LIMIT 1`))[0].id };
    const others = {
      raw24hProvider: await time(() => analytics.metrics(admin, { groupBy: "PROVIDER" }), 10),
      rollup30dUser: await time(() => analytics.metrics(admin, { ...thirtyDays, groupBy: "USER" }), 10),
      rollup30dOneUser: await time(() => analytics.metrics(user, { ...thirtyDays, groupBy: "MODEL" }), 10),
      rollup400dDay: await time(() => analytics.metrics(admin, { from: new Date(now - 400 * DAY), to: new Date(now), groupBy: "DAY" }), 10),
    };

    console.log(JSON.stringify({
      bench: "analytics-metrics",
      at: new Date().toISOString(),
      rows: ROWS,
      attempts: (await ds.query(`SELECT count(*)::int AS n FROM generation_attempts`))[0].n,
      seedMs: Math.round(seedMs),
      rollupBuildMs: Math.round(rollupBuildMs),
      rolledUpHours: run.hours,
      rollupRows,
      queryMsP50: service.p50,
      queryMsP95: service.p95,
      source: first.source,
      exactPercentiles: first.exactPercentiles,
      requestsIn30Days: first.total.requests,
      graphqlMsP50: viaGraphql.p50,
      graphqlMsP95: viaGraphql.p95,
      otherQueriesMs: Object.fromEntries(Object.entries(others).map(([k, v]) => [k, { p50: v.p50, p95: v.p95 }])),
    }, null, 2));
  } finally {
    await ds.destroy();
    if (process.env.BENCH_KEEP_DB === "1") console.error(`kept ${db.name}`);
    else await db.drop();
  }
}

async function time(fn: () => Promise<unknown>, n = ITERATIONS): Promise<{ p50: number; p95: number }> {
  for (let i = 0; i < 3; i++) await fn();
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn();
    ms.push(performance.now() - t);
  }
  const s = [...ms].sort((a, b) => a - b);
  const at = (p: number) => Math.round(s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] * 10) / 10;
  return { p50: at(50), p95: at(95) };
}

async function seed(ds: ReturnType<typeof createDataSource>) {
  await ds.query(`SELECT setseed(0.42)`);
  await ds.query(
    `INSERT INTO users (id, email, role, tier)
     SELECT gen_random_uuid(), 'bench-' || lpad(i::text, 4, '0') || '@bench.local', 'USER', 'pro' FROM generate_series(1, $1) i`,
    [USERS],
  );
  await ds.query(`CREATE TEMP TABLE bench_users AS SELECT row_number() OVER (ORDER BY email) - 1 AS n, id FROM users`);
  await ds.query(`CREATE TEMP TABLE bench_models (n int PRIMARY KEY, provider text, name text, modality text, price int)`);
  await ds.query(
    `INSERT INTO bench_models
     SELECT p * 4 + m, ($1::text[])[p + 1], 'model-' || (p * 4 + m), ($2::text[])[m + 1], (ARRAY[800, 4000, 20000, 50])[m + 1]
     FROM generate_series(0, 5) p, generate_series(0, 3) m`,
    [PROVIDERS, MODALITIES],
  );
  // Batches keep each statement (and its WAL) moderate; every row gets its own random draws.
  const batch = 100_000;
  await ds.query(`SET synchronous_commit = off`);
  for (let start = 0; start < ROWS; start += batch) {
    await ds.query(
      `WITH draws AS (
         SELECT i, random() AS r_user, random() AS r_model, random() AS r_status, random() AS r_cache,
                random() AS r_lat, random() AS r_wait, random() AS r_retry
         FROM generate_series($1::int, $2::int - 1) i
       ), picked AS (
         SELECT d.*, u.id AS user_id, m.provider, m.name AS provider_model, m.modality, m.price,
                now() - make_interval(secs => 60 * 86400 * (d.i::float8 / $3)) AS created_at
         FROM draws d
         JOIN bench_users u ON u.n = floor(${USERS} * d.r_user ^ 2)::int
         JOIN bench_models m ON m.n = ((floor(${USERS} * d.r_user ^ 2)::int * 7 + floor(d.r_model ^ 2 * 5)::int) % 24)
       ), shaped AS (
         SELECT p.*,
           CASE WHEN p.r_status < 0.88 THEN 'SUCCEEDED' WHEN p.r_status < 0.96 THEN 'FAILED' ELSE 'CANCELLED' END AS status,
           p.r_cache < 0.08 AS cached,
           exp(4 + p.r_lat * 6) AS lat_ms,
           exp(p.r_wait * 9) AS wait_ms
         FROM picked p
       )
       INSERT INTO generations (id, user_id, status, modality, model, provider, provider_model, priority, cached, estimated_cost_micros, cost_micros,
                                error_code, run_attempt, created_at, updated_at, started_at, completed_at)
       SELECT gen_random_uuid(), user_id, status, modality, provider || '/' || provider_model, provider, provider_model, 'NORMAL', cached AND status = 'SUCCEEDED',
              price * 2, CASE WHEN cached AND status = 'SUCCEEDED' THEN 0 WHEN status = 'SUCCEEDED' THEN price ELSE 0 END,
              CASE WHEN status = 'FAILED' THEN (ARRAY['RATE_LIMITED','PROVIDER_UNAVAILABLE','TIMEOUT','BAD_RESPONSE','EXPIRED'])[1 + floor(r_retry * 5)::int]
                   WHEN status = 'CANCELLED' THEN 'CANCELLED' END,
              1, created_at, created_at,
              CASE WHEN cached AND status = 'SUCCEEDED' THEN created_at ELSE created_at + make_interval(secs => wait_ms / 1000) END,
              CASE WHEN cached AND status = 'SUCCEEDED' THEN created_at ELSE created_at + make_interval(secs => (wait_ms + lat_ms) / 1000) END
       FROM shaped`,
      [start, Math.min(start + batch, ROWS), ROWS],
    );
  }
  // Attempts: one per generation served upstream, a retry for ~12% (all failures retried twice).
  await ds.query(
    `INSERT INTO generation_attempts (id, generation_id, attempt_no, provider, model, status, latency_ms, error_kind, cost_micros, created_at)
     SELECT gen_random_uuid(), g.id, a.n, g.provider, g.provider_model,
            CASE WHEN a.n = a.total AND g.status = 'SUCCEEDED' THEN 'SUCCEEDED' WHEN g.status = 'CANCELLED' AND a.n = a.total THEN 'CANCELLED' ELSE 'FAILED' END,
            100, CASE WHEN a.n < a.total OR g.status = 'FAILED' THEN 'unavailable' END,
            CASE WHEN a.n = a.total THEN COALESCE(g.cost_micros, 0) ELSE 0 END, g.started_at
     FROM generations g
     CROSS JOIN LATERAL (SELECT CASE WHEN g.status = 'FAILED' THEN 3 WHEN hashtext(g.id::text) % 8 = 0 THEN 2 ELSE 1 END AS total) t
     CROSS JOIN LATERAL (SELECT n, t.total FROM generate_series(1, t.total) n) a
     WHERE NOT g.cached`,
  );
  // A settled database, as history is in production (no autovacuum pass competing with the timings).
  await ds.query(`VACUUM ANALYZE generations`);
  await ds.query(`VACUUM ANALYZE generation_attempts`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
