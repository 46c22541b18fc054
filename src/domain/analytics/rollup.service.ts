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
import type { DataSource } from "typeorm";
import { HOUR_MS, floorHour } from "./metrics-range";
import { AnalyticsStore } from "./analytics.store";

/** Hours are rolled up this long after they end: rows written at the hour's edge (app clocks, batched inserts) have landed. */
export const SETTLE_MS = 5 * 60_000;

/** RollupOptions.dirtyLookbackMs when the sweeper ends generations older than `generationMaxAgeMs`: that plus an hour. */
export const dirtyLookbackFor = (generationMaxAgeMs: number): number => generationMaxAgeMs + HOUR_MS;

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

export class RollupService {
  private readonly store: AnalyticsStore;

  constructor(
    ds: DataSource,
    private readonly opts: RollupOptions,
  ) {
    this.store = new AnalyticsStore(ds);
  }

  /** One incremental run as of `now`. */
  async rollUp(now = new Date()): Promise<RollupRun> {
    const target = floorHour(new Date(now.getTime() - SETTLE_MS));
    const chunk = (this.opts.chunkHours ?? 24) * HOUR_MS;
    let hours = 0;
    let rolledUpTo: Date | null = null;
    for (;;) {
      const step = await this.store.rollupTransaction(async (tx) => {
        const state = await tx.lockState();
        if (!state) return { busy: true as const };
        let start = state.rolledUpTo;
        if (!start) {
          const first = await tx.firstGenerationAt();
          start = first ? floorHour(first) : target;
        }
        if (start.getTime() >= target.getTime()) {
          if (!state.rolledUpTo) await tx.setWatermark(target);
          return { done: true as const, at: state.rolledUpTo ?? target };
        }
        const end = new Date(Math.min(start.getTime() + chunk, target.getTime()));
        await tx.recompute(start, end);
        await tx.setWatermark(end);
        return { at: end, n: (end.getTime() - start.getTime()) / HOUR_MS, done: end.getTime() >= target.getTime() };
      });
      if ("busy" in step) return { hours, recomputed: 0, rolledUpTo, busy: true };
      rolledUpTo = step.at;
      hours += "n" in step ? (step.n ?? 0) : 0;
      if (step.done) break;
    }
    const recomputed = await this.store.rollupTransaction(async (tx) => {
      const state = await tx.lockState();
      if (!state?.rolledUpTo) return 0;
      const dirty = await tx.inProgressHours(new Date(now.getTime() - this.opts.dirtyLookbackMs), state.rolledUpTo);
      for (const hour of dirty) await tx.recompute(hour, new Date(hour.getTime() + HOUR_MS));
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
      await this.store.rollupTransaction(async (tx) => {
        await tx.lockState(true); // waits for a running rollUp instead of racing it on the same hours
        await tx.recompute(new Date(t), new Date(stop));
      });
      hours += (stop - t) / HOUR_MS;
    }
    return hours;
  }

  /** The watermark: every hour before it has been rolled up. */
  rolledUpTo(): Promise<Date | null> {
    return this.store.rolledUpTo();
  }
}
