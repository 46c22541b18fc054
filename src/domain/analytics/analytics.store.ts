/**
 * The analytics tables: the rollups (`analytics_hourly`, `analytics_hourly_all`,
 * `analytics_hourly_errors`, `analytics_daily_all`, `analytics_daily_errors_all`) and their
 * state row (`analytics_rollup_state`), the only module that writes them; and the metrics
 * query's reads of them and of raw `generations` with their attempts (a read model: the
 * generation store writes those). The rollups are rebuilt by RollupTransaction, the
 * metrics query reads through AnalyticsSnapshot (one read-only REPEATABLE READ transaction
 * on the analytics DataSource, a replica when DATABASE_READ_URL is set).
 */
import type { DataSource, EntityManager, QueryRunner } from "typeorm";
import {
  Params, ROLLUP_COUNTERS, errorRowsSql, errorsSql, generationsWhere, histSum, rawAggregateSql, rollupAggregateSql, rollupRowsSql,
  type Dim, type RollupSources,
} from "./analytics-sql";
import { BUCKET_BOUNDS_MS } from "./histogram";
import { ceilDay, floorDay, type Span } from "./metrics-range";

export type { Dim } from "./analytics-sql";

const TABLES = ["analytics_hourly", "analytics_hourly_all", "analytics_hourly_errors", "analytics_daily_all", "analytics_daily_errors_all"];
const G_WHERE = (a: string, b: string) => `g.created_at >= ${a} AND g.created_at < ${b}`;

export type Row = Record<string, unknown>;

/** Figures per grouping set member (`rows`) and error counts by code (`errors`). */
export interface Figures {
  rows: Row[];
  errors: Row[];
}

/** Where rollup-mode figures come from: whole hours from the hourly rollups, whole days from the daily all-users one, raw edges. */
export interface RollupPlan {
  /** Per-user rollups (a user is involved) instead of the all-users ones. */
  perUser: boolean;
  hours: readonly Span[];
  days: Span | null;
  rawEdges: readonly Span[];
  userId: string | null;
}

export class AnalyticsStore {
  constructor(private readonly ds: DataSource) {}

  /** Runs `fn` in one read-only snapshot: every read it makes sees the same data. */
  async snapshot<T>(fn: (r: AnalyticsSnapshot) => Promise<T>): Promise<T> {
    const qr = this.ds.createQueryRunner();
    await qr.connect();
    try {
      await qr.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
      // Short analytical statements: JIT compilation would cost more than it saves; hash aggregates get room.
      await qr.query("SET LOCAL jit = off");
      await qr.query("SET LOCAL work_mem = '32MB'");
      const out = await fn(new AnalyticsSnapshot(qr));
      await qr.query("COMMIT");
      return out;
    } catch (err) {
      await qr.query("ROLLBACK").catch(() => undefined);
      throw err;
    } finally {
      await qr.release();
    }
  }

  /** Runs `fn` in one (read-write) transaction: a step of a rollup run. */
  rollupTransaction<T>(fn: (tx: RollupTransaction) => Promise<T>): Promise<T> {
    return this.ds.transaction((m) => fn(new RollupTransaction(m)));
  }

  /** The watermark: every hour before it has been rolled up. */
  async rolledUpTo(): Promise<Date | null> {
    const rows = await this.ds.query(`SELECT rolled_up_to FROM analytics_rollup_state WHERE id = 1`);
    return rows[0]?.rolled_up_to ?? null;
  }
}

/** The reads of one snapshot. */
export class AnalyticsSnapshot {
  constructor(private readonly qr: QueryRunner) {}

  /** The rollups' watermark and the histogram bounds they were built with. */
  async rollupState(): Promise<{ rolledUpTo: Date | null; bucketBoundsMs: number[] | null }> {
    const state = await this.qr.query(`SELECT rolled_up_to, bucket_bounds_ms FROM analytics_rollup_state WHERE id = 1`);
    return { rolledUpTo: state[0]?.rolled_up_to ?? null, bucketBoundsMs: state[0]?.bucket_bounds_ms ?? null };
  }

  /** Exact figures over the raw generations created in `span`. */
  async raw(dims: readonly Dim[], sets: readonly (readonly Dim[])[], span: Span, userId: string | null): Promise<Figures> {
    const p = new Params();
    const pe = new Params();
    const rows = await this.qr.query(rawAggregateSql(dims, sets, generationsWhere(p, [span], userId)), p.values);
    const errors = await this.qr.query(errorsSql(dims, sets, { raw: generationsWhere(pe, [span], userId) }), pe.values);
    return { rows, errors };
  }

  /** Figures from the rollups plus raw edges. */
  async rollups(dims: readonly Dim[], sets: readonly (readonly Dim[])[], plan: RollupPlan): Promise<Figures> {
    const { userId } = plan;
    const sources = (ps: Params): RollupSources => ({
      perUser: plan.perUser,
      hourly: plan.hours.length
        ? `(${plan.hours.map(([a, b]) => `(hour >= ${ps.add(a)} AND hour < ${ps.add(b)})`).join(" OR ")})` + (userId ? ` AND user_id = ${ps.add(userId)}` : "")
        : null,
      daily: plan.days ? `day >= ${ps.add(plan.days[0])} AND day < ${ps.add(plan.days[1])}` : null,
      edges: plan.rawEdges.length ? generationsWhere(ps, plan.rawEdges, userId) : null,
    });
    const p = new Params();
    const pe = new Params();
    const rows = await this.qr.query(rollupAggregateSql(dims, sets, sources(p)), p.values);
    const errors = await this.qr.query(errorsSql(dims, sets, sources(pe)), pe.values);
    return { rows, errors };
  }
}

/** The statements of one rollup transaction. */
export class RollupTransaction {
  constructor(private readonly m: EntityManager) {}

  /** Locks the state row (null: another run holds it); starts over if the bucket bounds changed since the rollups were built. */
  async lockState(wait = false): Promise<{ rolledUpTo: Date | null } | null> {
    const m = this.m;
    const rows = await m.query(`SELECT rolled_up_to, bucket_bounds_ms FROM analytics_rollup_state WHERE id = 1 FOR UPDATE${wait ? "" : " SKIP LOCKED"}`);
    if (!rows.length) return null;
    const bounds: number[] | null = rows[0].bucket_bounds_ms;
    if (!bounds || bounds.length !== BUCKET_BOUNDS_MS.length || bounds.some((b, i) => b !== BUCKET_BOUNDS_MS[i])) {
      await m.query(`TRUNCATE ${TABLES.join(", ")}`);
      await m.query(`UPDATE analytics_rollup_state SET rolled_up_to = NULL, bucket_bounds_ms = $1, updated_at = now() WHERE id = 1`, [BUCKET_BOUNDS_MS]);
      return { rolledUpTo: null };
    }
    return { rolledUpTo: rows[0].rolled_up_to };
  }

  /** When the oldest generation was created (null: there is none). */
  async firstGenerationAt(): Promise<Date | null> {
    const first = await this.m.query(`SELECT min(created_at) AS t FROM generations`);
    return first[0].t ?? null;
  }

  async setWatermark(at: Date): Promise<void> {
    await this.m.query(`UPDATE analytics_rollup_state SET rolled_up_to = $1, updated_at = now() WHERE id = 1`, [at]);
  }

  /** Rolled-up hours in `[from, to)` that still had QUEUED/RUNNING generations, oldest first. */
  async inProgressHours(from: Date, to: Date): Promise<Date[]> {
    const dirty: { hour: Date }[] = await this.m.query(
      `SELECT DISTINCT hour FROM analytics_hourly WHERE in_progress > 0 AND hour >= $1 AND hour < $2 ORDER BY hour`,
      [from, to],
    );
    return dirty.map((d) => d.hour);
  }

  /** Replaces the rollups of the hours in `[from, to)` (hour-aligned) with fresh ones. */
  async recompute(from: Date, to: Date): Promise<void> {
    const m = this.m;
    const span = [from, to];
    for (const t of TABLES.slice(0, 3)) {
      await m.query(`DELETE FROM ${t} WHERE hour >= $1 AND hour < $2`, span);
    }
    const cols = ROLLUP_COUNTERS.join(", ");
    await m.query(
      `INSERT INTO analytics_hourly (hour, user_id, provider, model, modality, ${cols}, latency_hist, queue_wait_hist)
       ${rollupRowsSql(G_WHERE("$1", "$2"), true)}`,
      span,
    );
    await m.query(
      `INSERT INTO analytics_hourly_all (hour, provider, model, modality, ${cols}, latency_hist, queue_wait_hist)
       SELECT hour, provider, model, modality, ${ROLLUP_COUNTERS.map((c) => `sum(${c})`).join(", ")},
         ${histSum("latency_hist", "int")}, ${histSum("queue_wait_hist", "int")}
       FROM analytics_hourly WHERE hour >= $1 AND hour < $2
       GROUP BY 1, 2, 3, 4`,
      span,
    );
    await m.query(
      `INSERT INTO analytics_hourly_errors (hour, user_id, provider, model, modality, error_code, count) ${errorRowsSql(G_WHERE("$1", "$2"))}`,
      span,
    );
    // The days these hours fall in, from their hourly rows (a day is read only once all its hours are rolled up).
    const days = [floorDay(from), ceilDay(to)];
    await m.query(`DELETE FROM analytics_daily_all WHERE day >= $1 AND day < $2`, days);
    await m.query(
      `INSERT INTO analytics_daily_all (day, provider, model, modality, ${cols}, latency_hist, queue_wait_hist)
       SELECT date_trunc('day', hour, 'UTC'), provider, model, modality, ${ROLLUP_COUNTERS.map((c) => `sum(${c})`).join(", ")},
         ${histSum("latency_hist", "int")}, ${histSum("queue_wait_hist", "int")}
       FROM analytics_hourly_all WHERE hour >= $1 AND hour < $2
       GROUP BY 1, 2, 3, 4`,
      days,
    );
    await m.query(`DELETE FROM analytics_daily_errors_all WHERE day >= $1 AND day < $2`, days);
    await m.query(
      `INSERT INTO analytics_daily_errors_all (day, provider, model, modality, error_code, count)
       SELECT date_trunc('day', hour, 'UTC'), provider, model, modality, error_code, sum(count)
       FROM analytics_hourly_errors WHERE hour >= $1 AND hour < $2
       GROUP BY 1, 2, 3, 4, 5`,
      days,
    );
  }
}
