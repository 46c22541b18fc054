/**
 * Maintains the rollups the metrics query reads for long ranges: `analytics_hourly` (per
 * hour, user, provider, model, modality), `analytics_hourly_all` (the same without the
 * user: what admin-wide queries scan), `analytics_hourly_errors` (FAILED generations by
 * error code), and daily all-users sums of the last two (`analytics_daily_all`,
 * `analytics_daily_errors_all`).
 *
 * An hour is recomputed as a whole — its rows deleted and rebuilt from `generations` in
 * one transaction — so a run is idempotent and may repeat any hour. Each run rolls up
 * the hours that ended (plus a settle margin) since the watermark, in chunks that each
 * advance it, then recomputes recent hours that still had QUEUED/RUNNING generations when
 * they were rolled up (their generations finish later). The state row is locked
 * `FOR UPDATE SKIP LOCKED`, so concurrent runs on several workers never interleave.
 */
import type { DataSource, EntityManager } from "typeorm";
import { BUCKET_BOUNDS_MS } from "./histogram";
import { ROLLUP_COUNTERS, errorRowsSql, histSum, rollupRowsSql } from "./analytics-sql";
import { HOUR_MS, ceilDay, floorDay, floorHour } from "./metrics-range";

/** Hours are rolled up this long after they end: rows written at the hour's edge (app clocks, batched inserts) have landed. */
export const SETTLE_MS = 5 * 60_000;

export interface RollupOptions {
  /** How far back hours with in-flight generations are re-rolled (GENERATION_MAX_AGE_MS + 1 h: past it the sweeper has ended them). */
  dirtyLookbackMs: number;
  /** Hours per transaction while catching up, default 24. */
  chunkHours?: number;
}

export interface RollupRun {
  /** Hours rolled up for the first time. */
  hours: number;
  /** Hours recomputed because they had in-flight generations. */
  recomputed: number;
  rolledUpTo: Date | null;
  /** Another run held the state row. */
  busy?: boolean;
}

const TABLES = ["analytics_hourly", "analytics_hourly_all", "analytics_hourly_errors", "analytics_daily_all", "analytics_daily_errors_all"];
const G_WHERE = (a: string, b: string) => `g.created_at >= ${a} AND g.created_at < ${b}`;

export class RollupService {
  constructor(
    private readonly ds: DataSource,
    private readonly opts: RollupOptions,
  ) {}

  /** One incremental run as of `now`. */
  async rollUp(now = new Date()): Promise<RollupRun> {
    const target = floorHour(new Date(now.getTime() - SETTLE_MS));
    const chunk = (this.opts.chunkHours ?? 24) * HOUR_MS;
    let hours = 0;
    let rolledUpTo: Date | null = null;
    for (;;) {
      const step = await this.ds.transaction(async (m) => {
        const state = await this.lockState(m);
        if (!state) return { busy: true as const };
        let start = state.rolledUpTo;
        if (!start) {
          const first = await m.query(`SELECT min(created_at) AS t FROM generations`);
          start = first[0].t ? floorHour(first[0].t) : target;
        }
        if (start.getTime() >= target.getTime()) {
          if (!state.rolledUpTo) await this.setWatermark(m, target);
          return { done: true as const, at: state.rolledUpTo ?? target };
        }
        const end = new Date(Math.min(start.getTime() + chunk, target.getTime()));
        await this.recompute(m, start, end);
        await this.setWatermark(m, end);
        return { at: end, n: (end.getTime() - start.getTime()) / HOUR_MS, done: end.getTime() >= target.getTime() };
      });
      if ("busy" in step) return { hours, recomputed: 0, rolledUpTo, busy: true };
      rolledUpTo = step.at;
      hours += "n" in step ? (step.n ?? 0) : 0;
      if (step.done) break;
    }
    const recomputed = await this.ds.transaction(async (m) => {
      const state = await this.lockState(m);
      if (!state?.rolledUpTo) return 0;
      const dirty: { hour: Date }[] = await m.query(
        `SELECT DISTINCT hour FROM analytics_hourly WHERE in_progress > 0 AND hour >= $1 AND hour < $2 ORDER BY hour`,
        [new Date(now.getTime() - this.opts.dirtyLookbackMs), state.rolledUpTo],
      );
      for (const { hour } of dirty) await this.recompute(m, hour, new Date(hour.getTime() + HOUR_MS));
      return dirty.length;
    });
    return { hours, recomputed, rolledUpTo };
  }

  /** Recomputes the rolled-up hours overlapping `[from, to)` (after a backfill or deletions); later hours are rolled up as usual. */
  async rebuild(from: Date, to: Date): Promise<number> {
    const chunk = (this.opts.chunkHours ?? 24) * HOUR_MS;
    const watermark = await this.rolledUpTo();
    const end = Math.min(Math.ceil(to.getTime() / HOUR_MS) * HOUR_MS, watermark?.getTime() ?? -Infinity);
    let hours = 0;
    for (let t = floorHour(from).getTime(); t < end; t += chunk) {
      const stop = Math.min(t + chunk, end);
      await this.ds.transaction(async (m) => {
        await this.lockState(m, true); // waits for a running rollUp instead of racing it on the same hours
        await this.recompute(m, new Date(t), new Date(stop));
      });
      hours += (stop - t) / HOUR_MS;
    }
    return hours;
  }

  /** The watermark: every hour before it has been rolled up. */
  async rolledUpTo(): Promise<Date | null> {
    const rows = await this.ds.query(`SELECT rolled_up_to FROM analytics_rollup_state WHERE id = 1`);
    return rows[0]?.rolled_up_to ?? null;
  }

  /** Locks the state row (null: another run holds it); starts over if the bucket bounds changed since the rollups were built. */
  private async lockState(m: EntityManager, wait = false): Promise<{ rolledUpTo: Date | null } | null> {
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

  private async setWatermark(m: EntityManager, at: Date): Promise<void> {
    await m.query(`UPDATE analytics_rollup_state SET rolled_up_to = $1, updated_at = now() WHERE id = 1`, [at]);
  }

  /** Replaces the rollups of the hours in `[from, to)` (hour-aligned) with fresh ones. */
  private async recompute(m: EntityManager, from: Date, to: Date): Promise<void> {
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
