/** Queue names, payloads and the producer side. The only folder that imports bullmq. */
import { Queue, type JobsOptions } from "bullmq";
import type { Redis } from "ioredis";
import type { Priority } from "../db/entities/generation.entity";
import type { GenerationScheduler } from "../domain/generations/scheduler";
import { TickBatcher } from "../common/tick-batcher";
import { enqueueSpan, type TraceCarrier } from "../observability/tracing";
import { queuePrefix } from "./queue-prefix";

export const GENERATIONS_QUEUE = "generations";
export const MAINTENANCE_QUEUE = "maintenance";

export interface GenerationJobData {
  generationId: string;
  /** The owner, for per-user fairness caps (absent on jobs re-enqueued by the sweeper). */
  userId?: string;
  /** W3C trace context of the enqueue (only when tracing is on): the worker's span continues the trace. */
  trace?: TraceCarrier;
}

/** BullMQ: lower number = sooner. Every job gets a priority so HIGH can overtake NORMAL. */
export const PRIORITY_RANK: Record<Priority, number> = { HIGH: 1, NORMAL: 2, LOW: 3, BATCH: 3 };

/** Custom backoff type: Retry-After when the provider gave one, else exponential with full jitter. */
export const BACKOFF_TYPE = "switchboard";

export interface QueueSettings {
  /** An ioredis connection: BullMQ's, and ours for reading the line's order (ZRANK/ZRANGE on BullMQ's prioritized set). */
  connection: Redis;
  prefix: string;
  attempts: number;
}

export class GenerationQueue implements GenerationScheduler {
  readonly queue: Queue<GenerationJobData>;
  /** Enqueues made in the same turn go to Redis as one addBulk (one round trip). */
  private readonly adds: TickBatcher<{ id: string; priority: Priority; userId?: string; trace?: TraceCarrier }, void>;

  constructor(private readonly settings: QueueSettings) {
    this.queue = new Queue<GenerationJobData>(GENERATIONS_QUEUE, { connection: settings.connection, prefix: queuePrefix(settings.prefix, GENERATIONS_QUEUE, settings.connection) });
    // A queue with no 'error' listener throws when Redis goes away, taking the process down; it reconnects by itself.
    this.queue.on("error", () => undefined);
    this.adds = new TickBatcher<{ id: string; priority: Priority; userId?: string; trace?: TraceCarrier }, void>(async (items) => {
      await this.queue.addBulk(items.map(({ id, priority, userId, trace }) => ({ name: "generate", data: { generationId: id, ...(userId ? { userId } : {}), ...(trace ? { trace } : {}) }, opts: this.jobOptions(id, priority) })));
      return items.map((): void => undefined);
    });
  }

  private jobOptions(id: string, priority: Priority): JobsOptions {
    return {
      jobId: id,
      priority: PRIORITY_RANK[priority],
      attempts: this.settings.attempts,
      backoff: { type: BACKOFF_TYPE },
      removeOnComplete: true,
      removeOnFail: { age: 7 * 24 * 3600 },
    };
  }

  enqueue(generationId: string, priority: Priority, userId?: string): Promise<void> {
    // The caller's context is active here: the enqueue span is its child, and travels in the job.
    return enqueueSpan(GENERATIONS_QUEUE, generationId, (trace) => this.adds.add({ id: generationId, priority, userId, trace }));
  }

  /** Replaces a lost/failed job with a fresh one under the same id. */
  async requeue(generationId: string, priority: Priority): Promise<void> {
    const old = await this.queue.getJob(generationId);
    if (old) await old.remove().catch(() => undefined);
    await this.enqueue(generationId, priority);
  }

  /** A delayed job runs now (an upstream task reported completion by webhook); false when it is not delayed. */
  async promote(generationId: string): Promise<boolean> {
    const job = await this.queue.getJob(generationId);
    if (!job || !(await job.isDelayed())) return false;
    await job.promote();
    return true;
  }

  /**
   * Adds the generation's job due in `delayMs` (an in-process run, domain/generations/sync-run.ts, handed to the queue),
   * with `attemptsUsed` of its JOB_ATTEMPTS already spent by that run.
   */
  async enqueueIn(generationId: string, priority: Priority, userId: string, delayMs: number, attemptsUsed: number): Promise<void> {
    const opts = this.jobOptions(generationId, priority);
    await this.queue.add("generate", { generationId, userId }, { ...opts, attempts: Math.max(1, this.settings.attempts - attemptsUsed), delay: Math.max(0, delayMs) });
  }

  async remove(generationId: string): Promise<boolean> {
    const job = await this.queue.getJob(generationId);
    if (!job) return false;
    try {
      await job.remove();
      return true;
    } catch {
      return false; // locked by a worker: the cancel broadcast reaches it
    }
  }

  async state(generationId: string): Promise<"waiting" | "active" | "delayed" | "completed" | "failed" | "missing" | "other"> {
    const s = await this.queue.getJobState(generationId);
    if (s === "unknown") return "missing";
    if (s === "waiting" || s === "prioritized" || s === "waiting-children") return "waiting";
    if (s === "active" || s === "delayed" || s === "completed" || s === "failed") return s;
    return "other";
  }

  async depth(): Promise<{ waiting: number; active: number; delayed: number }> {
    const c = await this.queue.getJobCounts("waiting", "prioritized", "active", "delayed");
    return { waiting: (c.waiting ?? 0) + (c.prioritized ?? 0), active: c.active ?? 0, delayed: c.delayed ?? 0 };
  }

  /** Queue controls (domain/generations/queue-control.ts): BullMQ's global pause, seen by every worker at its next fetch. */
  pause(): Promise<void> {
    return this.queue.pause();
  }

  resume(): Promise<void> {
    return this.queue.resume();
  }

  isPaused(): Promise<boolean> {
    return this.queue.isPaused();
  }

  async countsByPriority(): Promise<{ priority: Priority; count: number }[]> {
    // BATCH jobs (a provider without a batch API) wait as LOW: counted there, not twice.
    const ranks = (Object.entries(PRIORITY_RANK) as [Priority, number][]).filter(([p]) => p !== "BATCH");
    const c = await this.queue.getCountsPerPriority(ranks.map(([, n]) => n));
    return ranks.map(([priority, n]) => ({ priority, count: c[String(n)] ?? 0 }));
  }

  /** Each job's 0-based rank in BullMQ's prioritized set (priority, then enqueue order): the order workers take them; null when not waiting. */
  async ranks(jobIds: string[]): Promise<(number | null)[]> {
    if (!jobIds.length) return [];
    const p = this.settings.connection.pipeline();
    for (const id of jobIds) p.zrank(this.queue.keys.prioritized, id);
    return ((await p.exec()) ?? []).map(([err, r]: [Error | null, unknown]) => (err || r === null || r === undefined ? null : Number(r)));
  }

  /** The first `n` waiting job ids in the order workers take them. */
  async head(n: number): Promise<string[]> {
    if (n <= 0) return [];
    return this.settings.connection.zrange(this.queue.keys.prioritized, 0, n - 1);
  }

  close(): Promise<void> {
    return this.queue.close();
  }
}
