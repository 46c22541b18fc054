/**
 * One coherent thing: the event script, its keys (cluster tags included) and the reads that pair with it.
 * Redis pub/sub for the whole product. Generation events get a gap-free per-generation
 * `seq` and their accumulated text from one Lua script, so INCR, APPEND and PUBLISH are
 * atomic and a snapshot (seq + text read in one MULTI) is consistent with the live stream.
 * The seq never goes backwards: a counter Redis lost restarts above a floor the publisher
 * knows (Postgres keeps `seq_reserved` ahead of every seq a run may publish). The same script
 * keeps the set of streams whose terminal event is still to come, so a terminal state
 * committed by a process that died before publishing it is found and published.
 * On a Redis Cluster a generation's keys and the open-streams set its script updates share a
 * hash tag: generations are spread over STREAM_BUCKETS tags, each with its own open-streams set.
 */
import type { Redis } from "ioredis";
import type { RedisPubSub } from "graphql-redis-subscriptions";
import type { GenerationEntity } from "../db/entities/generation.entity";
import { Topic, type TopicPayloads } from "./topics";
import { createPushIterator } from "../common/push-iterator";
import { bucketOf, hashTag } from "../common/hash-tag";
import { TERMINAL_EVENT_TYPES, toEventView, type GenerationEventPayload, type GenerationEventType } from "./generation-event";

/**
 * KEYS: seq counter, accumulated text, open-streams set, current run, stream log. ARGV: payload tail, ttl, delta
 * to append, reset text (1/0), channel, owner channel, floor, kind, generation id, now (ms), run.
 * run > 0 fences a run's events: once a later run of the generation has published, an earlier
 * run still streaming (its job was re-enqueued after Redis lost it) publishes nothing more.
 * kind: q = QUEUED (always seq 1, the first state), a = a later QUEUED (a queue position) only while
 * the run has not started (no STARTED in the stream log: a look at the line that read the row before
 * a worker claimed it must not publish QUEUED after STARTED), d = DELTA/PROGRESS, t = another non-terminal
 * event, x = RESTARTED only if there is text to discard, e = terminal, r = a terminal event whose
 * publication is not known (published only if the stream is still open or Redis lost it).
 * A missing counter (Redis lost it, or it expired) restarts at floor + 1, never at 1: the floor
 * is the highest seq the caller knows may have been published. Returns {seq, restored, wasOpen};
 * seq 0 = nothing published.
 * The stream log is a list of (seq, mark) pairs: mark 0 a text reset (STARTED, RESTARTED), n > 0 a
 * DELTA after which the text is n bytes long, -1 a terminal event. With the text it replays every
 * text event a subscriber missed since a given seq (the OpenAI Responses stream's starting_after).
 */
const PUBLISH_EVENT_LUA = `
local kind = ARGV[8]
local wasOpen = 0
local run = tonumber(ARGV[11])
if run > 0 then
  local cur = tonumber(redis.call('GET', KEYS[4]) or '0')
  if run < cur then return {0, 0, 0} end
  if run > cur then redis.call('SET', KEYS[4], run, 'PX', ARGV[2]) end
end
if kind == 'r' then
  if redis.call('ZSCORE', KEYS[3], ARGV[9]) then wasOpen = 1
  elseif redis.call('EXISTS', KEYS[1]) == 1 then return {0, 0, 0} end
elseif kind == 'x' then
  if redis.call('EXISTS', KEYS[2]) == 0 then return {0, 0, 0} end
elseif kind == 'a' then
  if redis.call('EXISTS', KEYS[5]) == 1 then return {0, 0, 0} end
end
local seq = redis.call('INCR', KEYS[1])
local restored = 0
if kind == 'q' then
  if seq > 1 then redis.call('DECR', KEYS[1]) end
  seq = 1
elseif seq == 1 then
  local floor = tonumber(ARGV[7])
  if floor > 0 then
    seq = floor + 1
    redis.call('SET', KEYS[1], seq)
    restored = 1
  end
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
local logged = false
if ARGV[4] == '1' then
  redis.call('DEL', KEYS[2])
  redis.call('RPUSH', KEYS[5], seq, 0)
  logged = true
end
if ARGV[3] ~= '' then
  local len = redis.call('APPEND', KEYS[2], ARGV[3])
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
  redis.call('RPUSH', KEYS[5], seq, len)
  logged = true
end
if kind == 'e' or kind == 'r' then
  redis.call('RPUSH', KEYS[5], seq, -1)
  logged = true
end
if logged then redis.call('PEXPIRE', KEYS[5], ARGV[2]) end
if kind == 'e' or kind == 'r' then redis.call('ZREM', KEYS[3], ARGV[9])
elseif kind == 'q' or restored == 1 then redis.call('ZADD', KEYS[3], ARGV[10], ARGV[9]) end
local payload = '{"seq":' .. seq .. ARGV[1]
redis.call('PUBLISH', ARGV[5], payload)
redis.call('PUBLISH', ARGV[6], payload)
return {seq, restored, wasOpen}
`;

type PublishReply = [seq: number, restored: number, wasOpen: number];

type RedisWithEvent = Redis & {
  sbGenerationEvent(
    seqKey: string, textKey: string, openKey: string, runKey: string, logKey: string, rest: string, ttlMs: number, append: string, reset: string,
    ch1: string, ch2: string, floor: number, kind: string, id: string, now: number, run: number,
  ): Promise<PublishReply>;
};

export interface EventInit {
  type: Exclude<GenerationEventType, "SNAPSHOT">;
  progress?: number;
  delta?: string;
  message?: string;
  /** QUEUED: the place in line and the estimated start (ISO), when the queue watcher announces them. */
  queuePosition?: number | null;
  estimatedStartAt?: string | null;
}

export interface PublishOptions {
  /**
   * The highest seq that may have been published for this generation (a counter Redis lost
   * restarts above it). Default: the row's `seqReserved`. The process running the generation
   * passes the last seq it got back.
   */
  floor?: number;
  /** RESTARTED only: publish it only if there is streamed text to discard (a run after an earlier one). */
  onlyIfText?: boolean;
  /** The run publishing (its run attempt): an earlier run's events are dropped once a later run published. */
  run?: number;
  /**
   * QUEUED only: a later QUEUED event (the queue position moved) with the next seq, not the generation's
   * first event. Dropped (seq 0) once the run has started: its STARTED (or any text or terminal event) went out.
   */
  again?: boolean;
}

export interface Published {
  /** 0 when nothing was published. */
  seq: number;
  /** Redis had lost the counter: it was restored from the floor (a snapshot taken meanwhile lacks the text). */
  restored: boolean;
}

const STREAMING = new Set<GenerationEventType>(["DELTA", "PROGRESS"]);

/** Redis Cluster only: how many hash tags (slots) generation streams are spread over. */
export const STREAM_BUCKETS = 32;

export class EventBus {
  private readonly redis: RedisWithEvent;

  constructor(
    private readonly pubsub: RedisPubSub,
    redis: Redis,
    private readonly prefix: string,
    /** How long seq counters and accumulated text live after the last event. */
    private readonly streamTtlMs = 3_600_000,
  ) {
    this.redis = redis as RedisWithEvent;
    if (!("sbGenerationEvent" in redis)) redis.defineCommand("sbGenerationEvent", { numberOfKeys: 5, lua: PUBLISH_EVENT_LUA });
  }

  channel(topic: Topic, id?: string): string {
    return id ? `${this.prefix}:${topic}:${id}` : `${this.prefix}:${topic}`;
  }

  async publish<T extends Topic>(topic: T, id: string | undefined, payload: TopicPayloads[T]): Promise<void> {
    await this.pubsub.publish(this.channel(topic, id), payload);
  }

  /** Resolves once Redis has acknowledged the subscription; returns the unsubscribe function. */
  async subscribe<T extends Topic>(topic: T, id: string | undefined, onMessage: (p: TopicPayloads[T]) => void): Promise<() => void> {
    const subId = await this.pubsub.subscribe(this.channel(topic, id), onMessage);
    return () => this.pubsub.unsubscribe(subId);
  }

  /** A subscription as an async iterator (what a GraphQL subscription returns); live once this resolves. */
  async iterate<T extends Topic>(topic: T, id: string | undefined, accept: (p: TopicPayloads[T]) => boolean = () => true): Promise<AsyncIterableIterator<TopicPayloads[T]>> {
    let unsubscribe: () => void = () => undefined;
    const it = createPushIterator<TopicPayloads[T]>(() => unsubscribe());
    unsubscribe = await this.subscribe(topic, id, (p) => accept(p) && it.push(p));
    return it;
  }

  /**
   * Publishes one generation event to its own and its owner's channel. Transport only: callers
   * publish through GenerationEvents (domain/generations/generation-events.ts), which notifies
   * the listeners of terminal transitions.
   */
  async sendEvent(g: GenerationEntity, ev: EventInit, opts: PublishOptions = {}): Promise<Published> {
    const kind = ev.type === "QUEUED" ? (opts.again ? "a" : "q") : TERMINAL_EVENT_TYPES.has(ev.type) ? "e" : STREAMING.has(ev.type) ? "d" : ev.type === "RESTARTED" && opts.onlyIfText ? "x" : "t";
    const [seq, restored] = await this.send(g, ev, kind, opts.floor ?? g.seqReserved ?? 0, opts.run ?? 0);
    return { seq, restored: restored === 1 };
  }

  /**
   * Publishes a terminal generation's terminal event again if it is not known to have gone out:
   * its stream is still open (the process that committed it died before publishing it), or Redis
   * lost the stream (then a subscriber may see it twice, never not at all). `wasOpen`: it
   * certainly had not gone out.
   */
  async resendTerminal(g: GenerationEntity): Promise<{ published: boolean; wasOpen: boolean }> {
    if (!TERMINAL_EVENT_TYPES.has(g.status as GenerationEventType)) return { published: false, wasOpen: false };
    const ev: EventInit = { type: g.status as "SUCCEEDED" | "FAILED" | "CANCELLED", message: g.errorMessage ?? undefined };
    const [seq, , wasOpen] = await this.send(g, ev, "r", g.seqReserved ?? 0);
    return { published: seq > 0, wasOpen: wasOpen === 1 };
  }

  /** Generations whose stream opened (QUEUED) before `beforeMs` and has not ended (no terminal event yet), oldest first. */
  async openStreams(beforeMs: number, limit: number): Promise<string[]> {
    if (!this.redis.isCluster) return this.redis.zrangebyscore(this.openKey(), "-inf", beforeMs, "LIMIT", 0, limit);
    const per = await Promise.all(this.openKeys().map((k) => this.redis.zrangebyscore(k, "-inf", beforeMs, "WITHSCORES", "LIMIT", 0, limit)));
    const all: [string, number][] = per.flatMap((flat) => flat.flatMap((v, i) => (i % 2 ? [] : [[v, Number(flat[i + 1])] as [string, number]])));
    return all.sort((a, b) => a[1] - b[1]).slice(0, limit).map(([id]) => id);
  }

  /** Marks open streams as checked now (the sweeper looks at them again a grace period later). */
  async touchOpenStreams(ids: string[]): Promise<void> {
    const now = Date.now();
    await Promise.all([...this.byOpenKey(ids)].map(([k, some]) => this.redis.zadd(k, "XX", ...some.flatMap((id) => [now, id]))));
  }

  /** Forgets open streams of generations that no longer exist. */
  async forgetOpenStreams(ids: string[]): Promise<void> {
    await Promise.all([...this.byOpenKey(ids)].map(([k, some]) => this.redis.zrem(k, ...some)));
  }

  /** Ids grouped by the open-streams set that lists them (one set on a single Redis). */
  private byOpenKey(ids: string[]): Map<string, string[]> {
    const m = new Map<string, string[]>();
    for (const id of ids) {
      const k = this.openKey(id);
      const list = m.get(k);
      if (list) list.push(id);
      else m.set(k, [id]);
    }
    return m;
  }

  private async send(g: GenerationEntity, ev: EventInit, kind: string, floor: number, run = 0): Promise<PublishReply> {
    const rest: Omit<GenerationEventPayload, "seq"> = {
      type: ev.type,
      generationId: g.id,
      userId: g.userId,
      at: new Date().toISOString(),
      progress: ev.progress ?? g.progress,
      delta: ev.delta,
      message: ev.message,
      ...(ev.queuePosition !== undefined ? { queuePosition: ev.queuePosition, estimatedStartAt: ev.estimatedStartAt ?? null } : {}),
      generation: toEventView(g),
    };
    const json = JSON.stringify(rest);
    const reply = await this.redis.sbGenerationEvent(
      this.seqKey(g.id),
      this.textKey(g.id),
      this.openKey(g.id),
      this.runKey(g.id),
      this.logKey(g.id),
      "," + json.slice(1),
      this.streamTtlMs,
      ev.type === "DELTA" ? (ev.delta ?? "") : "",
      ev.type === "RESTARTED" || ev.type === "STARTED" ? "1" : "0",
      this.channel(Topic.GENERATION_EVENT, g.id),
      this.channel(Topic.USER_GENERATION_EVENT, g.userId),
      Math.max(0, Math.floor(floor)),
      kind,
      g.id,
      Date.now(),
      run,
    );
    return [Number(reply[0]), Number(reply[1]), Number(reply[2])];
  }

  /** The last seq and the text streamed so far, read atomically. */
  async readStream(generationId: string): Promise<{ seq: number; text: string }> {
    const res = await this.redis.multi().get(this.seqKey(generationId)).get(this.textKey(generationId)).exec();
    const seq = Number(res?.[0]?.[1] ?? 0);
    return { seq, text: (res?.[1]?.[1] as string | null) ?? "" };
  }

  /**
   * The last seq, the text streamed so far (bytes) and the stream log (see PUBLISH_EVENT_LUA), read
   * atomically: what a stream resumed after a given seq replays its missed text events from.
   */
  async readStreamLog(generationId: string): Promise<{ seq: number; text: Buffer; log: { seq: number; mark: number }[] }> {
    const res = await this.redis.multi().get(this.seqKey(generationId)).getBuffer(this.textKey(generationId)).lrange(this.logKey(generationId), 0, -1).exec();
    const flat = ((res?.[2]?.[1] as string[] | null) ?? []).map(Number);
    const log: { seq: number; mark: number }[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) log.push({ seq: flat[i], mark: flat[i + 1] });
    return { seq: Number(res?.[0]?.[1] ?? 0), text: (res?.[1]?.[1] as Buffer | null) ?? Buffer.alloc(0), log };
  }

  /** `<prefix>:` on a single Redis; `<prefix>:{ev:<bucket>}:` on a cluster (the generation's slot). */
  private base(id: string): string {
    return this.redis.isCluster ? `${this.prefix}:${hashTag(this.redis, `ev:${bucketOf(id, STREAM_BUCKETS)}`)}:` : `${this.prefix}:`;
  }
  private logKey(id: string) {
    return `${this.base(id)}slog:${id}`;
  }
  private runKey(id: string) {
    return `${this.base(id)}run:${id}`;
  }
  private seqKey(id: string) {
    return `${this.base(id)}seq:${id}`;
  }
  private textKey(id: string) {
    return `${this.base(id)}text:${id}`;
  }
  /** Sorted set (score: ms) of generations whose terminal event has not been published yet (on a cluster, those of `id`'s bucket). */
  private openKey(id?: string) {
    return this.redis.isCluster && id !== undefined ? `${this.base(id)}streams:open` : `${this.prefix}:streams:open`;
  }
  /** Every open-streams set. */
  private openKeys(): string[] {
    return this.redis.isCluster ? Array.from({ length: STREAM_BUCKETS }, (_, b) => `${this.prefix}:${hashTag(this.redis, `ev:${b}`)}:streams:open`) : [this.openKey()];
  }
}
