/**
 * Queue controls (issue 17): pause and resume the whole generation queue or one provider's
 * work, clear matching QUEUED generations, and the queue's figures for admins.
 *
 * Pausing is shared state in Redis, never process memory alone, so every worker on every node
 * sees it: pickups (workers, the fast sync path) read a copy of the state refreshed every
 * FRESH_MS / 2 and never older than FRESH_MS, and pauseQueue(provider) returns only after
 * FRESH_MS, so from then on no process starts that work.
 * - The whole queue: BullMQ's own pause (no worker takes a job once it is set) and our field
 *   `*` in `<prefix>:queue-control` (a job fetched just before BullMQ's pause is parked).
 * - One provider: a field `p:<provider>`. BullMQ has no per-provider pause (that is Pro's
 *   groups), so a worker that picks up a job whose generation's provider is paused — its
 *   `provider` column: routing's first candidate, or the candidate a fallback moved to — parks
 *   it: the job moves to delayed (a safety-net delay, PARK_MS) and is listed in
 *   `<prefix>:queue-control:parked:<provider>`; resuming promotes every listed job. Other
 *   providers' work runs meanwhile. A promoted job joins the end of its priority class.
 * Paused work stays QUEUED (the gate runs before the claim); running work finishes. Work that
 * is running when the pause lands and is retried later waits too.
 *
 * The one module that writes the `<prefix>:queue-control*` and `<prefix>:queue-rate:*` keys.
 */
import type { Redis } from "ioredis";
import { BadUserInputError, ConflictError } from "../../common/errors";
import { hashTag } from "../../common/hash-tag";
import { isUuid } from "../../common/ids";
import type { GenerationEntity, Priority } from "../../db/entities/generation.entity";
import type { Logger } from "../../observability/logger";
import type { Viewer } from "../viewer";
import type { GenerationQuery } from "./generation.store";

/** What queue controls need from the job queue (jobs/queues.ts implements it on BullMQ). */
export interface QueueAdmin {
  pause(): Promise<void>;
  resume(): Promise<void>;
  isPaused(): Promise<boolean>;
  /** A delayed job runs now; false when it is not delayed. */
  promote(generationId: string): Promise<boolean>;
  /** Removes a waiting/delayed job; false when it is running (locked) or gone. */
  remove(generationId: string): Promise<boolean>;
  state(generationId: string): Promise<"waiting" | "active" | "delayed" | "completed" | "failed" | "missing" | "other">;
  depth(): Promise<{ waiting: number; active: number; delayed: number }>;
  /** Waiting jobs per priority. */
  countsByPriority(): Promise<{ priority: Priority; count: number }[]>;
  /** Each job's 0-based place among the waiting jobs in the order workers take them; null: not waiting. */
  ranks(jobIds: string[]): Promise<(number | null)[]>;
  /** The first `n` waiting job ids, in the order workers take them. */
  head(n: number): Promise<string[]>;
}

/** The GenerationStore reads and the cancel path clearQueue goes through. */
export interface QueueControlDeps {
  redis: Redis;
  prefix: string;
  queue: QueueAdmin;
  /** A page of generations, newest first (GenerationStore.page). */
  page(q: GenerationQuery, take: number): Promise<GenerationEntity[]>;
  /** The generation's provider column (null: the row is gone). */
  providerOf(generationId: string): Promise<string | null>;
  /** The normal cancel path (GenerationService.cancel): CANCELLED event, reservation released, webhook. */
  cancel(viewer: Viewer, id: string): Promise<GenerationEntity>;
  log: Logger;
}

export interface ClearQueueFilter {
  userId?: string | null;
  /** As requested (`<provider>/<model>`, an alias or `auto`). */
  model?: string | null;
  provider?: string | null;
  priority?: Priority | null;
  createdBefore?: Date | null;
}

export interface PauseState {
  /** The whole queue is paused. */
  paused: boolean;
  /** Providers whose work is held. */
  providers: string[];
}

export interface QueueStatus extends PauseState {
  waiting: number;
  active: number;
  delayed: number;
  byPriority: { priority: Priority; count: number }[];
}

const ALL = "*";
const field = (provider?: string | null) => (provider ? `p:${provider}` : ALL);
/** The completion-rate buckets (QueuePositions reads them): 5-second counters kept 70 s. */
export const RATE_BUCKET_MS = 5_000;
export const RATE_BUCKETS = 12;
/** One rate bucket's counter; on a Redis Cluster every bucket shares a hash tag (QueuePositions MGETs them). */
export const queueRateKey = (redis: Redis, prefix: string, bucket: number): string => `${prefix}:${hashTag(redis, "queue-rate")}:${bucket}`;

export class QueueControl {
  /** The longest a parked job waits if its resume's promotion never reaches it (a crash): then it is looked at again. */
  static readonly PARK_MS = 30_000;
  /**
   * Pickups read the pause state from a copy at most this old (refreshed in the background), so a
   * pickup costs no Redis round trip; pauseQueue(provider) returns only after this long, so once it
   * has returned every process's copy shows the pause. ms.
   */
  static readonly FRESH_MS = 200;
  /** Finished jobs are counted in memory and added to their rate bucket at most this long after (one MULTI per flush, not per job). ms. */
  static readonly RATE_FLUSH_MS = 250;
  private cached?: { at: number; state: Promise<PauseState> };
  private timer?: NodeJS.Timeout;
  private done = new Map<number, number>();
  private flushTimer?: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();

  constructor(private readonly d: QueueControlDeps) {}

  /** Keeps the pickups' copy of the pause state fresh (one HGETALL per FRESH_MS / 2 per process). */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.current(true).catch(() => undefined), QueueControl.FRESH_MS / 2);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.flushCompleted().catch(() => undefined);
  }

  /** The pause state as of at most FRESH_MS ago (a copy read no earlier than that: its age counts from the read's start). */
  private current(refresh = false): Promise<PauseState> {
    const now = Date.now();
    if (!refresh && this.cached && now - this.cached.at < QueueControl.FRESH_MS) return this.cached.state;
    const state = this.state();
    state.then(() => {
      if (!this.cached || this.cached.at <= now) this.cached = { at: now, state };
    }, () => undefined);
    return state;
  }

  private get key(): string {
    // The pause hash and its parking sets share a hash tag on a Redis Cluster (resume reads and clears them in one MULTI).
    return `${this.d.prefix}:${hashTag(this.d.redis, "queue-control")}`;
  }

  private parkedKey(f: string): string {
    return `${this.key}:parked:${f}`;
  }

  async pause(provider?: string | null): Promise<QueueStatus> {
    await this.d.redis.hset(this.key, field(provider), new Date().toISOString());
    // The whole queue: BullMQ's pause binds every worker at once. Either way, wait out every process's copy of the state:
    // the fast sync path (and a provider's pickups) read the copy, so once this returns no process starts held work.
    if (!provider) await this.d.queue.pause();
    await new Promise((r) => setTimeout(r, QueueControl.FRESH_MS + 20));
    return this.status();
  }

  async resume(provider?: string | null): Promise<QueueStatus> {
    const f = field(provider);
    // The flag goes with the parked list read (a job parked after this sees the flag gone and promotes itself), and before
    // BullMQ's pause is lifted: a worker that fetches a job then must not find the flag and park it.
    const [, [, ids]] = (await this.d.redis.multi().hdel(this.key, f).smembers(this.parkedKey(f)).del(this.parkedKey(f)).exec())!.slice(0, 2) as [unknown, [unknown, string[]]];
    if (!provider) await this.d.queue.resume();
    for (const id of ids) await this.d.queue.promote(id).catch(() => false);
    return this.status();
  }

  /** What is paused, read from Redis now (one HGETALL); pickups use a copy at most FRESH_MS old. */
  async state(): Promise<PauseState> {
    const h = await this.d.redis.hgetall(this.key);
    return { paused: ALL in h, providers: Object.keys(h).filter((k) => k.startsWith("p:")).map((k) => k.slice(2)).sort() };
  }

  /** Whether work on `provider` must wait now (the fast sync path asks before running in-process). */
  async holds(provider: string | null): Promise<boolean> {
    const s = await this.current();
    return s.paused || (!!provider && s.providers.includes(provider));
  }

  /**
   * At a worker's pickup: the pause that holds this generation's job (`*` or a provider), or
   * null when it may run. The generation's row is read only while some provider is paused.
   */
  async heldFor(generationId: string): Promise<string | null> {
    const held = await this.heldBy(generationId, await this.current());
    // A copy saying "held" is confirmed from Redis before the job is parked: a parked job promoted on resume goes
    // to the back of its priority, so a stale copy right after a resume sent the line's first jobs to its end.
    return held === null ? null : this.heldBy(generationId, await this.current(true));
  }

  private async heldBy(generationId: string, s: PauseState): Promise<string | null> {
    if (s.paused) return ALL;
    if (!s.providers.length) return null;
    const provider = await this.d.providerOf(generationId);
    return provider && s.providers.includes(provider) ? `p:${provider}` : null;
  }

  /** Lists a job (already moved to delayed) under the pause that holds it; true when that pause was lifted meanwhile (promote it). */
  async park(pause: string, jobId: string): Promise<boolean> {
    const [, [, still]] = (await this.d.redis.multi().sadd(this.parkedKey(pause), jobId).hexists(this.key, pause).exec())! as [unknown, [unknown, number]];
    return still === 0;
  }

  /**
   * A worker finished a job (any outcome): one count in the current rate bucket (QueuePositions reads the rate),
   * added within RATE_FLUSH_MS together with the others this process finished meanwhile.
   */
  async completed(): Promise<void> {
    const bucket = Math.floor(Date.now() / RATE_BUCKET_MS);
    this.done.set(bucket, (this.done.get(bucket) ?? 0) + 1);
    if (this.flushTimer) return;
    this.flushTimer = setTimeout(() => void this.flushCompleted().catch(() => undefined), QueueControl.RATE_FLUSH_MS);
    this.flushTimer.unref();
  }

  /** Adds the finished jobs counted so far to their buckets (one MULTI). */
  flushCompleted(): Promise<void> {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const done = this.done;
    this.done = new Map();
    if (!done.size) return this.flushing;
    const m = this.d.redis.multi();
    for (const [bucket, n] of done) {
      const k = queueRateKey(this.d.redis, this.d.prefix, bucket);
      m.incrby(k, n).pexpire(k, RATE_BUCKET_MS * (RATE_BUCKETS + 2));
    }
    return (this.flushing = this.flushing.then(() => m.exec()).then(() => undefined));
  }

  async status(): Promise<QueueStatus> {
    const [s, nativePaused, depth, byPriority] = await Promise.all([this.state(), this.d.queue.isPaused(), this.d.queue.depth(), this.d.queue.countsByPriority()]);
    return { ...s, paused: s.paused || nativePaused, ...depth, byPriority };
  }

  /**
   * Cancels the QUEUED generations matching `filter` through the normal cancel path; returns how
   * many it cancelled. A generation a worker picks up while the clear runs is left running (its
   * job is removed from the queue first; one locked by a worker is running, not queued).
   */
  async clear(viewer: Viewer, filter: ClearQueueFilter): Promise<number> {
    if (filter.userId != null && !isUuid(filter.userId)) throw new BadUserInputError("filter.userId is not a user id", { field: "filter.userId" });
    if (filter.model?.includes("\u0000")) throw new BadUserInputError("filter.model contains a NUL character", { field: "filter.model" });
    let cancelled = 0;
    let before: { createdAt: Date; id: string } | undefined;
    for (;;) {
      const rows = await this.d.page({ status: ["QUEUED"], userId: filter.userId ?? undefined, model: filter.model ?? undefined, createdBefore: filter.createdBefore ?? undefined, before }, 500);
      if (!rows.length) return cancelled;
      before = { createdAt: rows.at(-1)!.createdAt, id: rows.at(-1)!.id };
      for (const g of rows) {
        if (filter.provider && g.provider !== filter.provider) continue;
        if (filter.priority && g.priority !== filter.priority) continue;
        if (await this.cancelQueued(viewer, g)) cancelled++;
      }
    }
  }

  private async cancelQueued(actor: Viewer, g: GenerationEntity): Promise<boolean> {
    // A coalesced follower has no job of its own (its group's job runs for the others too): cancel just the follower.
    if (!g.groupId && !(await this.d.queue.remove(g.id).catch(() => false)) && (await this.d.queue.state(g.id)) === "active") return false;
    try {
      await this.d.cancel(actor, g.id);
      return true;
    } catch (err) {
      if (err instanceof ConflictError) return false; // it ended meanwhile
      this.d.log.warn({ err, generationId: g.id }, "clearQueue could not cancel a generation");
      return false;
    }
  }
}

/**
 * The fast sync path (sync-run.ts) under the pauses: a generation whose queue or provider is
 * paused is not run in-process either; it takes the queue and waits there (still QUEUED).
 * A run prepared before admission is granted only when no pause holds it (else its slot and leases go back).
 */
export function gatedByPause<R, P extends { granted: Promise<boolean>; abandon(): Promise<void> }>(
  sync: { reserve(g: GenerationEntity): Promise<R | null>; prepare(g: GenerationEntity): P | null },
  control: Pick<QueueControl, "holds">,
): { reserve(g: GenerationEntity): Promise<R | null>; prepare(g: GenerationEntity): P | null } {
  return {
    reserve: async (g) => ((await control.holds(g.provider)) ? null : sync.reserve(g)),
    prepare: (g) => {
      const run = sync.prepare(g);
      if (!run) return null;
      const held = control.holds(g.provider).catch(() => true);
      const granted = Promise.all([run.granted, held]).then(async ([ok, paused]) => {
        if (ok && paused) await run.abandon();
        return ok && !paused;
      });
      return Object.assign(Object.create(run) as P, run, { granted });
    },
  };
}
