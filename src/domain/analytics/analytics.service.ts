/**
 * The `metrics` query over Postgres history: counts, rates, errors, retries, cache hits,
 * latency and queue-wait percentiles and cost, grouped, charted and ranked.
 *
 * Short ranges (≤ rawMaxHours) read raw generations: exact percentile_cont. Longer ones
 * read whole hours from the hourly rollups (whole days from the daily all-users rollup
 * when no user and no hourly figure is involved) and raw rows only for what the rollups
 * do not cover yet (the partial first hour, the tail after the watermark, the partial
 * last hour). Counts and costs are sums, so the two parts simply add; percentiles then come
 * from the merged histograms (raw edges bucketed the same way), within one bucket's width.
 * Everything runs in one read-only REPEATABLE READ transaction on the analytics
 * DataSource (a replica when DATABASE_READ_URL is set): analytics.store.ts.
 */
import type { DataSource } from "typeorm";
import { ForbiddenError, BadUserInputError } from "../../common/errors";
import { isUuid } from "../../common/ids";
import { isAdmin, type Viewer } from "../viewer";
import { AnalyticsStore, type Dim, type Figures, type Row } from "./analytics.store";
import { BUCKET_BOUNDS_MS } from "./histogram";
import { planSources, resolveRange, seriesBuckets, seriesInterval, splitDays, type Interval } from "./metrics-range";
import {
  emptyAggregate, sortGroups, statsFrom, topModels,
  type Aggregate, type GroupBy, type MetricsGroupView, type MetricsStats, type MetricsView,
} from "./metrics-view";

export interface AnalyticsConfig {
  /** Ranges up to this many hours read raw rows (exact percentiles). */
  rawMaxHours: number;
}

export interface MetricsQuery {
  from?: Date | null;
  to?: Date | null;
  groupBy?: GroupBy | null;
  userId?: string | null;
}

const GROUP_DIM: Record<GroupBy, Dim> = { PROVIDER: "provider", MODEL: "model", USER: "user", HOUR: "hour", DAY: "day" };
const SERIES_DIM: Record<Interval, Dim> = { HOUR: "hour", DAY: "day" };

const num = (v: unknown) => (v === null || v === undefined ? 0 : Number(v));

export class AnalyticsService {
  private readonly store: AnalyticsStore;

  constructor(
    ds: DataSource,
    private readonly cfg: AnalyticsConfig,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.store = new AnalyticsStore(ds);
  }

  async metrics(viewer: Viewer, q: MetricsQuery): Promise<MetricsView> {
    const userId = this.scope(viewer, q.userId ?? null);
    const { from, to } = resolveRange(q, this.now());
    const groupBy = q.groupBy ?? null;
    const interval = seriesInterval(from, to);

    // The dimensions to aggregate by, each once: the grouping, the chart buckets, the model ranking.
    const wanted = { group: groupBy ? GROUP_DIM[groupBy] : null, series: SERIES_DIM[interval], model: "model" as Dim };
    const dims = [...new Set([wanted.group, wanted.series, wanted.model].filter((d): d is Dim => d !== null))];
    const sets: Dim[][] = [[], ...dims.map((d) => [d])];

    return this.store.snapshot(async (db) => {
      const state = await db.rollupState();
      // Rollups built with other bucket bounds are unusable until the next run rebuilds them.
      const rolledUpTo: Date | null = sameBounds(state.bucketBoundsMs) ? state.rolledUpTo : null;
      const plan = planSources(from, to, this.cfg.rawMaxHours, rolledUpTo);
      let figures: Figures;
      if (plan.source === "RAW") {
        figures = await db.raw(dims, sets, plan.raw, userId);
      } else {
        // Per-user rollups when a user is involved; otherwise the all-users ones (far fewer rows), by day for whole days unless hours are wanted.
        const perUser = userId !== null || groupBy === "USER";
        const split = !perUser && !dims.includes("hour") ? splitDays(plan.rollup) : { days: null, hours: [plan.rollup] };
        figures = await db.rollups(dims, sets, { perUser, hours: split.hours, days: split.days, rawEdges: plan.rawEdges, userId });
      }
      const { rows, errors } = figures;

      const setOf = (r: Row): Dim | null => dims.find((d) => Number(r[`g_${d}`]) === 0) ?? null;
      const keyOf = (d: Dim | null, r: Row): string => (d === null ? "" : keyString(r[`d_${d}`]));
      const errs = new Map<string, Map<string, number>>();
      for (const r of errors) {
        const id = `${setOf(r) ?? "total"}\u0000${keyOf(setOf(r), r)}`;
        const m = errs.get(id) ?? new Map<string, number>();
        m.set(String(r.error_code), num(r.count));
        errs.set(id, m);
      }
      const bySet = new Map<Dim | "total", Map<string, { key: unknown; stats: MetricsStats }>>();
      for (const r of rows) {
        const d = setOf(r);
        const key = keyOf(d, r);
        const m = bySet.get(d ?? "total") ?? new Map();
        m.set(key, { key: d ? r[`d_${d}`] : null, stats: statsFrom(toAggregate(r), errs.get(`${d ?? "total"}\u0000${key}`)) });
        bySet.set(d ?? "total", m);
      }
      const groupsOf = (d: Dim): MetricsGroupView[] =>
        [...(bySet.get(d)?.values() ?? [])].map(({ key, stats }) => ({ key: key === null || key === undefined ? null : keyString(key), stats }));

      const empty = statsFrom(emptyAggregate(), undefined);
      const seriesMap = bySet.get(wanted.series);
      const models = topModels(groupsOf("model"));
      return {
        from, to, userId, groupBy, interval,
        source: plan.source,
        exactPercentiles: plan.source === "RAW",
        rolledUpTo: plan.source === "ROLLUP" ? rolledUpTo : null,
        total: bySet.get("total")?.get("")?.stats ?? empty,
        groups: wanted.group ? sortGroups(groupsOf(wanted.group), groupBy!) : [{ key: null, stats: bySet.get("total")?.get("")?.stats ?? empty }],
        series: seriesBuckets(from, to, interval).map((at) => ({ at, stats: seriesMap?.get(at.toISOString())?.stats ?? empty })),
        topModelsByUse: models.byUse,
        topModelsByCost: models.byCost,
      };
    });
  }

  /** Whose figures the viewer may read: their own; an admin anyone's, or everyone's (null). */
  private scope(viewer: Viewer, userId: string | null): string | null {
    if (!isAdmin(viewer)) {
      if (userId !== null && userId !== viewer.userId) throw new ForbiddenError("You can only read your own metrics");
      return viewer.userId;
    }
    if (userId !== null && !isUuid(userId)) throw new BadUserInputError("userId must be a user id", { field: "userId" });
    return userId;
  }
}

function sameBounds(b: number[] | null | undefined): boolean {
  return !!b && b.length === BUCKET_BOUNDS_MS.length && b.every((x, i) => x === BUCKET_BOUNDS_MS[i]);
}

function keyString(v: unknown): string {
  return v instanceof Date ? v.toISOString() : v === null || v === undefined ? "" : String(v);
}

function toAggregate(r: Row): Aggregate {
  const a = emptyAggregate();
  Object.assign(a, {
    requests: num(r.requests), succeeded: num(r.succeeded), failed: num(r.failed), cancelled: num(r.cancelled),
    inProgress: num(r.in_progress), cacheHits: num(r.cache_hits), attempts: num(r.attempts), retries: num(r.retries),
    costMicros: num(r.cost_micros),
  });
  if (Array.isArray(r.latency_hist)) {
    a.latency = { histogram: (r.latency_hist as unknown[]).map(num) };
    a.queueWait = { histogram: (r.queue_wait_hist as unknown[]).map(num) };
  } else {
    a.latency = { exact: (r.latency_pct as (number | null)[] | null) ?? null, samples: num(r.latency_samples) };
    a.queueWait = { exact: (r.queue_wait_pct as (number | null)[] | null) ?? null, samples: num(r.queue_wait_samples) };
  }
  return a;
}
