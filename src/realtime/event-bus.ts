/**
 * Redis pub/sub for the whole product. Generation events get a gap-free per-generation
 * `seq` and their accumulated text from one Lua script, so INCR, APPEND and PUBLISH are
 * atomic and a snapshot (seq + text read in one MULTI) is consistent with the live stream.
 */
import type { Redis } from "ioredis";
import type { RedisPubSub } from "graphql-redis-subscriptions";
import type { GenerationEntity } from "../db/entities/generation.entity";
import { Topic, type TopicPayloads } from "./topics";
import { createPushIterator } from "../common/push-iterator";
import { toSnapshot, type GenerationEventPayload, type GenerationEventType } from "./generation-event";

const PUBLISH_EVENT_LUA = `
local seq = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
if ARGV[4] == '1' then redis.call('DEL', KEYS[2]) end
if ARGV[3] ~= '' then
  redis.call('APPEND', KEYS[2], ARGV[3])
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
end
local payload = '{"seq":' .. seq .. ARGV[1]
redis.call('PUBLISH', ARGV[5], payload)
redis.call('PUBLISH', ARGV[6], payload)
return seq
`;

type RedisWithEvent = Redis & {
  sbPublishEvent(seqKey: string, textKey: string, rest: string, ttlMs: number, append: string, reset: string, ch1: string, ch2: string): Promise<number>;
};

export interface EventInit {
  type: Exclude<GenerationEventType, "SNAPSHOT">;
  progress?: number;
  delta?: string;
  message?: string;
}

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
    if (!("sbPublishEvent" in redis)) redis.defineCommand("sbPublishEvent", { numberOfKeys: 2, lua: PUBLISH_EVENT_LUA });
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

  private readonly terminalHooks: ((g: GenerationEntity, type: "SUCCEEDED" | "FAILED" | "CANCELLED") => void)[] = [];

  /**
   * Runs `fn` in the process that publishes a generation's terminal event (exactly one process
   * per transition: transitions are conditional updates). Webhooks and analytics hang off it.
   */
  onTerminal(fn: (g: GenerationEntity, type: "SUCCEEDED" | "FAILED" | "CANCELLED") => void): void {
    this.terminalHooks.push(fn);
  }

  /** Publishes one generation event to its own and its owner's channel; returns its seq. */
  async publishGenerationEvent(g: GenerationEntity, ev: EventInit): Promise<number> {
    if (ev.type === "SUCCEEDED" || ev.type === "FAILED" || ev.type === "CANCELLED")
      for (const fn of this.terminalHooks) {
        try {
          fn(g, ev.type);
        } catch {
          /* a hook never breaks the event itself */
        }
      }
    const rest: Omit<GenerationEventPayload, "seq"> = {
      type: ev.type,
      generationId: g.id,
      userId: g.userId,
      at: new Date().toISOString(),
      progress: ev.progress ?? g.progress,
      delta: ev.delta,
      message: ev.message,
      generation: toSnapshot(g),
    };
    const json = JSON.stringify(rest);
    return this.redis.sbPublishEvent(
      this.seqKey(g.id),
      this.textKey(g.id),
      "," + json.slice(1),
      this.streamTtlMs,
      ev.type === "DELTA" ? (ev.delta ?? "") : "",
      ev.type === "RESTARTED" || ev.type === "STARTED" ? "1" : "0",
      this.channel(Topic.GENERATION_EVENT, g.id),
      this.channel(Topic.USER_GENERATION_EVENT, g.userId),
    );
  }

  /** The last seq and the text streamed so far, read atomically. */
  async readStream(generationId: string): Promise<{ seq: number; text: string }> {
    const res = await this.redis.multi().get(this.seqKey(generationId)).get(this.textKey(generationId)).exec();
    const seq = Number(res?.[0]?.[1] ?? 0);
    return { seq, text: (res?.[1]?.[1] as string | null) ?? "" };
  }

  private seqKey(id: string) {
    return `${this.prefix}:seq:${id}`;
  }
  private textKey(id: string) {
    return `${this.prefix}:text:${id}`;
  }
}
