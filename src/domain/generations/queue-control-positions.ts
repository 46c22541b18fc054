/**
 * A QUEUED generation's place in line and estimated start (issue 17), and the QUEUED events
 * that tell subscribers when either moved materially.
 *
 * queuePosition: 1 + the number of waiting jobs BullMQ hands to workers before this one —
 * every waiting job of a higher priority, and those of its own priority enqueued earlier (its
 * rank in BullMQ's prioritized set). It is an upper bound on the work that starts first: the
 * fairness cap (USER_MAX_IN_FLIGHT) may park a job ahead of it, and a paused provider's job ahead
 * is parked when a worker reaches it; neither starts before it then. null when the job is not
 * waiting: running, delayed (a retry's backoff, a fairness or pause parking: it rejoins the line
 * when due or promoted), or run in-process. A coalesced follower read from a row shows its group's job.
 *
 * estimatedStartAt: now + position ÷ the recent completion rate (jobs workers finished per
 * second over the last minute, all workers: QueueControl counts them in 5-second Redis buckets).
 * null while nothing completed in that minute, or while its queue or provider is paused.
 *
 * Events: one process at a time (a leader lease in Redis) looks at the first QUEUE_POSITION_WATCH
 * waiting jobs every QUEUE_POSITION_INTERVAL_MS and publishes a QUEUED event (the next seq, with
 * queuePosition and estimatedStartAt) for a generation whose position moved by 10% or by 10
 * places, whichever is fewer (any move within the first 10), or whose estimate moved by more
 * than 10 s and 20% of the wait, or appeared or went away; at most one per generation per
 * interval. Its first look at a generation announces its position. The cost is per interval,
 * never per generation per tick: one ZRANGE, one MGET, one HMGET/HSET of what was announced,
 * and one row read for the generations that get an event.
 */
import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import { TickBatcher } from "../../common/tick-batcher";
import type { GenerationEntity } from "../../db/entities/generation.entity";
import type { Logger } from "../../observability/logger";
import type { GenerationEvents } from "./generation-events";
import { queueRateKey, RATE_BUCKET_MS, RATE_BUCKETS, type QueueAdmin, type QueueControl } from "./queue-control";

export interface QueuePlace {
  position: number;
  estimatedStartAt: Date | null;
}

export interface QueuePositionsConfig {
  /** How often the leader looks at the line, ms (0: no QUEUED position events). */
  intervalMs: number;
  /** Waiting jobs it looks at, from the head. */
  watch: number;
}

export interface QueuePositionsDeps {
  redis: Redis;
  prefix: string;
  queue: Pick<QueueAdmin, "ranks" | "head">;
  control: Pick<QueueControl, "state">;
  events: Pick<GenerationEvents, "publishGenerationEvent">;
  /** The rows that still exist among `ids` (GenerationStore.findByIds). */
  rows(ids: string[]): Promise<GenerationEntity[]>;
  cfg: QueuePositionsConfig;
  log: Logger;
}

/** QUEUED events one look publishes at once. */
const PUBLISH_PARALLEL = 32;

const RENEW_LUA = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) and 1 or 0`;

/** Whether a new place is worth an event after the last one announced. */
export function movedMaterially(last: { position: number; etaMs: number | null } | undefined, position: number, etaMs: number | null, now: number): boolean {
  if (!last) return true;
  const step = Math.max(1, Math.min(10, Math.ceil(last.position * 0.1)));
  if (Math.abs(position - last.position) >= step) return true;
  if ((last.etaMs === null) !== (etaMs === null)) return true;
  if (last.etaMs === null || etaMs === null) return false;
  const diff = Math.abs(etaMs - last.etaMs);
  return diff > 10_000 && diff > 0.2 * Math.max(0, last.etaMs - now);
}

export class QueuePositions {
  private readonly batch: TickBatcher<{ jobId: string; provider: string | null }, QueuePlace | null>;
  private timer?: NodeJS.Timeout;
  private ticking = false;
  private readonly token = randomUUID();

  constructor(private readonly d: QueuePositionsDeps) {
    d.redis.defineCommand("sbQueueWatchLease", { numberOfKeys: 1, lua: RENEW_LUA });
    // Concurrent reads (a page of generations, many clients) share one rank pipeline, one rate and one pause read.
    this.batch = new TickBatcher(async (items) => {
      const [ranks, rate, pause] = await Promise.all([this.d.queue.ranks(items.map((i) => i.jobId)), this.rate(), this.d.control.state()]);
      const now = Date.now();
      return items.map((it, i) => {
        const r = ranks[i];
        if (r === null) return null;
        const held = pause.paused || (!!it.provider && pause.providers.includes(it.provider));
        return { position: r + 1, estimatedStartAt: held || rate <= 0 ? null : new Date(now + ((r + 1) / rate) * 1000) };
      });
    });
  }

  /** The place of a QUEUED generation's job (its group's, for a coalesced follower); null when it is not waiting. */
  of(g: Pick<GenerationEntity, "id" | "status" | "provider"> & { groupId?: string | null }): Promise<QueuePlace | null> {
    if (g.status !== "QUEUED") return Promise.resolve(null);
    return this.batch.add({ jobId: g.groupId ?? g.id, provider: g.provider });
  }

  /** Jobs workers finished per second over the last minute (0: none). */
  async rate(): Promise<number> {
    const now = Date.now();
    const cur = Math.floor(now / RATE_BUCKET_MS);
    const keys = Array.from({ length: RATE_BUCKETS + 1 }, (_, i) => queueRateKey(this.d.redis, this.d.prefix, cur - i));
    const counts = (await this.d.redis.mget(...keys)).map((v) => Number(v ?? 0));
    const total = counts.reduce((a, b) => a + b, 0);
    if (!total) return 0;
    // Over the time since the oldest bucket with completions began (a queue that just started is not diluted by an idle minute).
    let oldest = 0;
    counts.forEach((c, i) => (c ? (oldest = i) : undefined));
    const seconds = Math.max(RATE_BUCKET_MS, now - (cur - oldest) * RATE_BUCKET_MS) / 1000;
    return total / seconds;
  }

  start(): void {
    if (this.d.cfg.intervalMs <= 0 || this.timer) return;
    this.timer = setInterval(() => void this.tick(), this.d.cfg.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One look at the line, if this process holds the lease; returns the events published. */
  async tick(): Promise<number> {
    if (this.ticking) return 0;
    this.ticking = true;
    try {
      const lease = `${this.d.prefix}:queue-control:watch-leader`;
      const ms = this.d.cfg.intervalMs * 3;
      const held = await (this.d.redis as unknown as { sbQueueWatchLease(k: string, t: string, ms: number): Promise<number> }).sbQueueWatchLease(lease, this.token, ms);
      return held === 1 ? await this.announce() : 0;
    } catch (err) {
      this.d.log.warn({ err }, "queue position events: one look at the queue failed");
      return 0;
    } finally {
      this.ticking = false;
    }
  }

  private async announce(): Promise<number> {
    const key = `${this.d.prefix}:queue-control:announced`;
    const ids = await this.d.queue.head(this.d.cfg.watch);
    const known = await this.d.redis.hkeys(key);
    const waiting = new Set(ids);
    const gone = known.filter((k) => !waiting.has(k));
    if (gone.length) await this.d.redis.hdel(key, ...gone);
    if (!ids.length) return 0;
    const [rate, pause, lastRaw] = await Promise.all([this.rate(), this.d.control.state(), this.d.redis.hmget(key, ...ids)]);
    const now = Date.now();
    const moved = new Map<string, { position: number; etaMs: number | null }>();
    ids.forEach((id, i) => {
      const raw = lastRaw[i];
      const last = raw ? { position: Number(raw.split(":")[0]), etaMs: raw.split(":")[1] ? Number(raw.split(":")[1]) : null } : undefined;
      const etaMs = pause.paused || rate <= 0 ? null : Math.round(now + ((i + 1) / rate) * 1000);
      if (movedMaterially(last, i + 1, etaMs, now)) moved.set(id, { position: i + 1, etaMs });
    });
    if (!moved.size) return 0;
    let published = 0;
    const record: string[] = [];
    const rows = (await this.d.rows([...moved.keys()])).filter((g) => g.status === "QUEUED");
    // Each generation gets one event per look, so they go out side by side (a few at a time): one after
    // another, a look at a long line on a loaded node took seconds and its events lagged the queue.
    for (let i = 0; i < rows.length; i += PUBLISH_PARALLEL) {
      await Promise.all(rows.slice(i, i + PUBLISH_PARALLEL).map(async (g) => {
        const m = moved.get(g.id)!;
        const etaMs = m.etaMs !== null && pause.providers.includes(g.provider ?? "") ? null : m.etaMs;
        // Read QUEUED a moment ago; a worker may have started it since: then the event script drops it (seq 0).
        const seq = await this.d.events.publishGenerationEvent(g, {
          type: "QUEUED", queuePosition: m.position, estimatedStartAt: etaMs === null ? null : new Date(etaMs).toISOString(),
        }, { again: true });
        if (!seq) return;
        record.push(g.id, `${m.position}:${m.etaMs ?? ""}`); // what the next look compares with
        published++;
      }));
    }
    if (record.length) await this.d.redis.multi().hset(key, ...record).pexpire(key, Math.max(60_000, this.d.cfg.intervalMs * 10)).exec();
    return published;
  }
}
