/**
 * SQL shared by the metrics query and the rollup builder, so raw rows and rollups count
 * the same things the same way.
 *
 * Definitions (per generation, bucketed by `created_at`, UTC):
 * - model key: the route that served it, `provider/provider_model`, once known; else the model as requested;
 * - latency: `completed_at − started_at` of generations that were not cache hits and both started and ended;
 * - queue wait: `started_at − created_at` of generations that were not cache hits and started;
 * - attempts: its `generation_attempts` rows except SKIPPED (no call was made); retries: attempts beyond the first.
 */
import { BOUNDS_SQL, BUCKET_COUNT } from "./histogram";

export type Dim = "provider" | "model" | "user" | "hour" | "day";

export const MODEL_KEY_SQL = `CASE WHEN g.provider IS NOT NULL AND g.provider_model IS NOT NULL THEN g.provider || '/' || g.provider_model ELSE g.model END`;
export const LATENCY_MS_SQL = `CASE WHEN NOT g.cached AND g.started_at IS NOT NULL AND g.completed_at IS NOT NULL THEN greatest(date_part('epoch', g.completed_at - g.started_at) * 1000, 0) END`;
export const QUEUE_WAIT_MS_SQL = `CASE WHEN NOT g.cached AND g.started_at IS NOT NULL THEN greatest(date_part('epoch', g.started_at - g.created_at) * 1000, 0) END`;
/** A lateral subquery (one evaluation per generation): `n` = its attempts that made a call. */
const ATTEMPTS_SQL = `(SELECT count(*) AS n FROM generation_attempts a WHERE a.generation_id = g.id AND a.status <> 'SKIPPED')`;

/** A dimension over generations (alias g). */
const GEN_DIM: Record<Dim, string> = {
  provider: "g.provider",
  model: MODEL_KEY_SQL,
  user: "g.user_id",
  hour: "date_trunc('hour', g.created_at, 'UTC')",
  day: "date_trunc('day', g.created_at, 'UTC')",
};

/** The same dimension over rollup-shaped rows. */
const ROLLUP_DIM: Record<Dim, string> = {
  provider: "provider",
  model: "model",
  user: "user_id",
  hour: "hour",
  day: "date_trunc('day', hour, 'UTC')",
};

/** Positional parameters for one statement. */
export class Params {
  readonly values: unknown[] = [];
  add(v: unknown): string {
    this.values.push(v);
    return `$${this.values.length}`;
  }
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const histCount = (bucketCol: string) => `ARRAY[${range(BUCKET_COUNT).map((k) => `count(*) FILTER (WHERE ${bucketCol} = ${k})`).join(", ")}]::int[]`;
/** Bucket-by-bucket sum of a histogram column (float8: exact for counts, cheap to add). */
export const histSum = (col: string, cast = "float8") => `ARRAY[${range(BUCKET_COUNT).map((k) => `sum(${col}[${k + 1}])`).join(", ")}]::${cast}[]`;

/** The counters of a rollup row, in column order. */
export const ROLLUP_COUNTERS = ["requests", "succeeded", "failed", "cancelled", "in_progress", "cache_hits", "attempts", "retries", "cost_micros"] as const;

/** Rollup-shaped rows — one per (hour, [user_id,] provider, model, modality) — from the generations matching `where`. */
export function rollupRowsSql(where: string, perUser: boolean): string {
  return `
    SELECT date_trunc('hour', g.created_at, 'UTC') AS hour,${perUser ? " g.user_id," : ""} g.provider, ${MODEL_KEY_SQL} AS model, g.modality,
      count(*)::int AS requests,
      count(*) FILTER (WHERE g.status = 'SUCCEEDED')::int AS succeeded,
      count(*) FILTER (WHERE g.status = 'FAILED')::int AS failed,
      count(*) FILTER (WHERE g.status = 'CANCELLED')::int AS cancelled,
      count(*) FILTER (WHERE g.status IN ('QUEUED', 'RUNNING'))::int AS in_progress,
      count(*) FILTER (WHERE g.cached)::int AS cache_hits,
      COALESCE(sum(g.n), 0)::int AS attempts,
      COALESCE(sum(greatest(g.n - 1, 0)), 0)::int AS retries,
      COALESCE(sum(g.cost_micros), 0)::bigint AS cost_micros,
      ${histCount("g.lb")} AS latency_hist,
      ${histCount("g.qb")} AS queue_wait_hist
    FROM (
      SELECT g.created_at, g.user_id, g.provider, g.provider_model, g.model, g.modality, g.status, g.cached, g.cost_micros,
        width_bucket(${LATENCY_MS_SQL}, ${BOUNDS_SQL}) AS lb, width_bucket(${QUEUE_WAIT_MS_SQL}, ${BOUNDS_SQL}) AS qb, a.n
      FROM generations g
      CROSS JOIN LATERAL ${ATTEMPTS_SQL} a
      WHERE ${where}
      OFFSET 0 -- a fence: bucket each value once, not once per FILTER
    ) g
    GROUP BY ${perUser ? "1, 2, 3, 4, 5" : "1, 2, 3, 4"}`;
}

/** Error counts per (hour, user_id, provider, model, modality, code) of the FAILED generations matching `where`. */
export function errorRowsSql(where: string): string {
  return `
    SELECT date_trunc('hour', g.created_at, 'UTC') AS hour, g.user_id, g.provider, ${MODEL_KEY_SQL} AS model, g.modality,
      COALESCE(g.error_code, 'UNKNOWN') AS error_code, count(*)::int AS count
    FROM generations g
    WHERE (${where}) AND g.status = 'FAILED'
    GROUP BY 1, 2, 3, 4, 5, 6`;
}

/** `g.created_at` within any of the spans (each `[from, to)`), and the user filter. */
export function generationsWhere(p: Params, spans: readonly (readonly [Date, Date])[], userId: string | null): string {
  const ranges = spans.map(([a, b]) => `(g.created_at >= ${p.add(a)} AND g.created_at < ${p.add(b)})`).join(" OR ");
  return userId ? `(${ranges}) AND g.user_id = ${p.add(userId)}` : `(${ranges})`;
}

const groupingSets = (sets: readonly (readonly Dim[])[], extra: string[] = []) =>
  `GROUPING SETS (${sets.map((s) => `(${[...s.map((d) => `d_${d}`), ...extra].join(", ")})`).join(", ")})`;
const groupingCols = (dims: readonly Dim[]) => dims.map((d) => `GROUPING(d_${d}) AS g_${d}, d_${d}`).join(", ");

/** Exact figures over raw generations: one row per grouping set member, percentiles by percentile_cont. */
export function rawAggregateSql(dims: readonly Dim[], sets: readonly (readonly Dim[])[], where: string): string {
  return `
    SELECT ${groupingCols(dims)},
      count(*)::float8 AS requests,
      count(*) FILTER (WHERE status = 'SUCCEEDED')::float8 AS succeeded,
      count(*) FILTER (WHERE status = 'FAILED')::float8 AS failed,
      count(*) FILTER (WHERE status = 'CANCELLED')::float8 AS cancelled,
      count(*) FILTER (WHERE status IN ('QUEUED', 'RUNNING'))::float8 AS in_progress,
      count(*) FILTER (WHERE cached)::float8 AS cache_hits,
      COALESCE(sum(n), 0)::float8 AS attempts,
      COALESCE(sum(greatest(n - 1, 0)), 0)::float8 AS retries,
      COALESCE(sum(cost_micros), 0)::float8 AS cost_micros,
      count(lat_ms)::float8 AS latency_samples,
      percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY lat_ms) AS latency_pct,
      count(qw_ms)::float8 AS queue_wait_samples,
      percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY qw_ms) AS queue_wait_pct
    FROM (
      SELECT ${dims.map((d) => `${GEN_DIM[d]} AS d_${d}`).join(", ")}, g.status, g.cached, g.cost_micros,
        ${LATENCY_MS_SQL} AS lat_ms, ${QUEUE_WAIT_MS_SQL} AS qw_ms, a.n
      FROM generations g
      CROSS JOIN LATERAL ${ATTEMPTS_SQL} a
      WHERE ${where}
      OFFSET 0
    ) x
    GROUP BY ${groupingSets(sets)}`;
}

/**
 * Where rollup-mode figures come from, each part a condition (null: not used): hourly
 * rollup rows (`hour`, and `user_id` when filtered), daily all-users rows for whole days
 * (`day`; never per user), and raw generations for the edges (alias g).
 */
export interface RollupSources {
  perUser: boolean;
  hourly: string | null;
  daily: string | null;
  edges: string | null;
}

const HIST_COLS = ["latency_hist", "queue_wait_hist"];

/**
 * Figures from rollups plus raw edges shaped like rollups (merged: counters add,
 * histograms add bucket by bucket). Aggregated once at the finest grain the sets need,
 * then per grouping set, so the wide histogram sums run over few rows.
 */
export function rollupAggregateSql(dims: readonly Dim[], sets: readonly (readonly Dim[])[], s: RollupSources): string {
  const cols = (hour: string) => [hour, ...(s.perUser ? ["user_id"] : []), "provider", "model", "modality", ...ROLLUP_COUNTERS, ...HIST_COLS].join(", ");
  const parts = [
    s.hourly && `SELECT ${cols("hour")} FROM ${s.perUser ? "analytics_hourly" : "analytics_hourly_all"} WHERE ${s.hourly}`,
    s.daily && `SELECT ${cols("day AS hour")} FROM analytics_daily_all WHERE ${s.daily}`,
    s.edges && rollupRowsSql(s.edges, s.perUser),
  ].filter(Boolean);
  return `
    WITH src AS (${parts.join("\n      UNION ALL ")}),
    fine AS (
      SELECT ${dims.map((d) => `${ROLLUP_DIM[d]} AS d_${d}`).join(", ")},
        ${ROLLUP_COUNTERS.map((c) => `sum(${c})::float8 AS ${c}`).join(", ")},
        ${histSum("latency_hist")} AS latency_hist, ${histSum("queue_wait_hist")} AS queue_wait_hist
      FROM src
      GROUP BY ${dims.map((_, i) => i + 1).join(", ")}
    )
    SELECT ${groupingCols(dims)},
      ${ROLLUP_COUNTERS.map((c) => `sum(${c})::float8 AS ${c}`).join(", ")},
      ${histSum("latency_hist")} AS latency_hist, ${histSum("queue_wait_hist")} AS queue_wait_hist
    FROM fine
    GROUP BY ${groupingSets(sets)}`;
}

/** Error counts by code per grouping set member: from raw rows, or from error rollups plus raw edges. */
export function errorsSql(dims: readonly Dim[], sets: readonly (readonly Dim[])[], source: { raw: string } | RollupSources): string {
  let src: string;
  if ("raw" in source) src = errorRowsSql(source.raw);
  else {
    const cols = (hour: string) => [hour, ...(source.perUser ? ["user_id"] : []), "provider", "model", "modality", "error_code", "count"].join(", ");
    src = [
      source.hourly && `SELECT ${cols("hour")} FROM analytics_hourly_errors WHERE ${source.hourly}`,
      source.daily && `SELECT ${cols("day AS hour")} FROM analytics_daily_errors_all WHERE ${source.daily}`,
      source.edges && `SELECT ${cols("hour")} FROM (${errorRowsSql(source.edges)}) r`,
    ].filter(Boolean).join("\n      UNION ALL ");
  }
  return `
    WITH fine AS (
      SELECT ${dims.map((d) => `${ROLLUP_DIM[d]} AS d_${d}`).join(", ")}, error_code, sum(count) AS count
      FROM (${src}) s
      GROUP BY ${[...dims, "error_code"].map((_, i) => i + 1).join(", ")}
    )
    SELECT ${groupingCols(dims)}, error_code, sum(count)::float8 AS count
    FROM fine
    GROUP BY ${groupingSets(sets, ["error_code"])}`;
}
