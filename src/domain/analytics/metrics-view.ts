/**
 * What a metrics query answers, and how one aggregated row (raw or rollup) becomes the
 * figures: rates, percentiles (exact or from a histogram), the error breakdown.
 */
import { percentileOf } from "./histogram";
import type { Interval } from "./metrics-range";

export type GroupBy = "PROVIDER" | "MODEL" | "USER" | "HOUR" | "DAY";
export type MetricsSource = "RAW" | "ROLLUP";

export interface Percentiles {
  /** How many values the percentiles are over. */
  samples: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

export interface MetricsStats {
  requests: number;
  succeeded: number;
  failed: number;
  cancelled: number;
  /** QUEUED or RUNNING. */
  inProgress: number;
  /** succeeded / finished (succeeded + failed + cancelled); 0 when none finished. */
  successRate: number;
  /** failed / finished. */
  failureRate: number;
  cacheHits: number;
  /** cacheHits / requests. */
  cacheHitRate: number;
  /** Upstream attempts that made a call (SKIPPED ones did not). */
  attempts: number;
  /** Attempts beyond each generation's first. */
  retries: number;
  costMicros: number;
  /** FAILED generations by error code, most frequent first. */
  errors: { code: string; count: number }[];
  latencyMs: Percentiles;
  queueWaitMs: Percentiles;
}

export interface MetricsGroupView {
  key: string | null;
  stats: MetricsStats;
}

export interface MetricsPointView {
  at: Date;
  stats: MetricsStats;
}

export interface MetricsView {
  from: Date;
  to: Date;
  /** The user the figures are limited to; null = every user (admins). */
  userId: string | null;
  groupBy: GroupBy | null;
  interval: Interval;
  source: MetricsSource;
  exactPercentiles: boolean;
  /** Rollup watermark used (hours before it came from rollups); null for RAW. */
  rolledUpTo: Date | null;
  total: MetricsStats;
  groups: MetricsGroupView[];
  series: MetricsPointView[];
  topModelsByUse: MetricsGroupView[];
  topModelsByCost: MetricsGroupView[];
}

/** One aggregated group as the SQL returns it: sums, and exact percentiles or histograms. */
export interface Aggregate {
  requests: number;
  succeeded: number;
  failed: number;
  cancelled: number;
  inProgress: number;
  cacheHits: number;
  attempts: number;
  retries: number;
  costMicros: number;
  latency: PercentileSource;
  queueWait: PercentileSource;
}

export type PercentileSource = { exact: readonly (number | null)[] | null; samples: number } | { histogram: readonly number[] };

export const PERCENTILES = [0.5, 0.95, 0.99] as const;

export function percentilesFrom(src: PercentileSource): Percentiles {
  if ("histogram" in src) {
    const samples = src.histogram.reduce((s, c) => s + c, 0);
    const [p50, p95, p99] = PERCENTILES.map((p) => percentileOf(src.histogram, p));
    return { samples, p50, p95, p99 };
  }
  const [p50, p95, p99] = src.samples ? (src.exact ?? [null, null, null]) : [null, null, null];
  return { samples: src.samples, p50: p50 ?? null, p95: p95 ?? null, p99: p99 ?? null };
}

export function emptyAggregate(): Aggregate {
  return {
    requests: 0, succeeded: 0, failed: 0, cancelled: 0, inProgress: 0, cacheHits: 0, attempts: 0, retries: 0, costMicros: 0,
    latency: { exact: null, samples: 0 }, queueWait: { exact: null, samples: 0 },
  };
}

const ratio = (a: number, b: number) => (b > 0 ? a / b : 0);

export function statsFrom(a: Aggregate, errors: Map<string, number> | undefined): MetricsStats {
  const finished = a.succeeded + a.failed + a.cancelled;
  return {
    requests: a.requests, succeeded: a.succeeded, failed: a.failed, cancelled: a.cancelled, inProgress: a.inProgress,
    successRate: ratio(a.succeeded, finished), failureRate: ratio(a.failed, finished),
    cacheHits: a.cacheHits, cacheHitRate: ratio(a.cacheHits, a.requests),
    attempts: a.attempts, retries: a.retries, costMicros: a.costMicros,
    errors: [...(errors ?? new Map<string, number>())]
      .map(([code, count]) => ({ code, count }))
      .sort((x, y) => y.count - x.count || x.code.localeCompare(y.code)),
    latencyMs: percentilesFrom(a.latency),
    queueWaitMs: percentilesFrom(a.queueWait),
  };
}

/** Groups by a category (provider, model, user): busiest first, ties by key (null last). Time keys: in order. */
export function sortGroups(groups: MetricsGroupView[], groupBy: GroupBy): MetricsGroupView[] {
  const byKey = (x: MetricsGroupView, y: MetricsGroupView) =>
    x.key === y.key ? 0 : x.key === null ? 1 : y.key === null ? -1 : x.key < y.key ? -1 : 1;
  if (groupBy === "HOUR" || groupBy === "DAY") return groups.sort(byKey);
  return groups.sort((x, y) => y.stats.requests - x.stats.requests || byKey(x, y));
}

export const TOP_MODELS = 10;

export function topModels(models: MetricsGroupView[]): { byUse: MetricsGroupView[]; byCost: MetricsGroupView[] } {
  const byKey = (x: MetricsGroupView, y: MetricsGroupView) => ((x.key ?? "") < (y.key ?? "") ? -1 : (x.key ?? "") > (y.key ?? "") ? 1 : 0);
  return {
    byUse: [...models].sort((x, y) => y.stats.requests - x.stats.requests || byKey(x, y)).slice(0, TOP_MODELS),
    byCost: [...models].sort((x, y) => y.stats.costMicros - x.stats.costMicros || y.stats.requests - x.stats.requests || byKey(x, y)).slice(0, TOP_MODELS),
  };
}
