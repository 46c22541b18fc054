/**
 * BullMQ job schedulers live in Redis: a FLUSHALL, or a Redis restart without persistence,
 * removes them, and nothing would create them again before the next process start (the
 * sweep, retention and rollup chores would simply stop). A queue built here re-asserts its
 * schedulers from a local timer: one ZSCORE per scheduler on the queue's index per period, and
 * an (idempotent) upsert only for a scheduler that is missing or long overdue (its next job
 * lost). Every worker process runs its own timer, so whichever notices first repairs it; a
 * concurrent upsert by another process keeps the same slot.
 */
import { Queue, type JobsOptions, type QueueOptions } from "bullmq";
import type { Logger } from "../observability/logger";

export interface SchedulerSpec {
  /** The job scheduler id (also the job name). */
  id: string;
  everyMs: number;
  opts?: JobsOptions;
}

export class ScheduledQueue extends Queue {
  private timer?: NodeJS.Timeout;
  private checking = false;

  constructor(name: string, opts: QueueOptions, private readonly specs: readonly SchedulerSpec[], private readonly log?: Logger) {
    super(name, opts);
    this.on("error", () => undefined); // reconnects by itself (an unheard 'error' would end the process)
  }

  /** Creates (or updates) every scheduler. */
  async upsertAll(): Promise<void> {
    for (const s of this.specs) await this.upsert(s);
  }

  private upsert(s: SchedulerSpec): Promise<unknown> {
    return this.upsertJobScheduler(s.id, { every: s.everyMs }, { name: s.id, opts: s.opts });
  }

  /**
   * Re-creates each scheduler missing from Redis, or whose next run is overdue by more than its
   * interval plus `slackMs` (its job was lost while the scheduler entry survived). One ZSCORE
   * per scheduler when all is well. Returns the ids it re-created.
   */
  async repair(slackMs: number): Promise<string[]> {
    const client = await this.getBackend().client;
    const next = await Promise.all(this.specs.map((s) => client.zscore(this.keys.repeat, s.id)));
    const now = Date.now();
    const repaired: string[] = [];
    for (const [i, s] of this.specs.entries()) {
      const at = next[i] === null ? null : Number(next[i]);
      if (at !== null && at >= now - s.everyMs - slackMs) continue;
      await this.upsert(s);
      repaired.push(s.id);
      this.log?.warn({ queue: this.name, scheduler: s.id, overdueMs: at === null ? undefined : now - at }, at === null
        ? "a job scheduler was missing from Redis (flushed or restarted without persistence): re-created it"
        : "a job scheduler's next job was overdue: re-asserted it");
    }
    return repaired;
  }

  /** Runs {@link repair} every `periodMs` until {@link close}. */
  keep(periodMs: number): this {
    clearInterval(this.timer);
    this.timer = setInterval(() => {
      if (this.checking) return;
      this.checking = true;
      this.repair(periodMs)
        .catch((err) => this.log?.warn({ err, queue: this.name }, "checking the job schedulers failed"))
        .finally(() => (this.checking = false));
    }, periodMs);
    this.timer.unref();
    return this;
  }

  override async close(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await super.close();
  }
}
