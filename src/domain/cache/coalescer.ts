/**
 * In-flight coalescing, coordinated in Redis so it works across API nodes: the first
 * request with a given exact-cache key becomes the leader (SET NX); identical requests
 * arriving while it is queued or running join its group instead of calling a provider.
 */
import type { Redis } from "ioredis";

const RELEASE_LUA = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

export class Coalescer {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly ttlMs: number,
  ) {}

  private key(k: string) {
    return `${this.prefix}:inflight:${k}`;
  }

  /** Null when `id` now leads this key; otherwise the current leader's generation id. */
  async lead(k: string, id: string): Promise<string | null> {
    for (let i = 0; i < 3; i++) {
      if ((await this.redis.set(this.key(k), id, "PX", this.ttlMs, "NX")) === "OK") return null;
      const leader = await this.redis.get(this.key(k));
      if (leader) return leader;
    }
    return null;
  }

  /** `id` takes the key over (its previous leader is gone). */
  async takeOver(k: string, id: string): Promise<void> {
    await this.redis.set(this.key(k), id, "PX", this.ttlMs);
  }

  /** Drops the key if `id` still leads it. */
  async release(k: string, id: string): Promise<void> {
    await this.redis.eval(RELEASE_LUA, 1, this.key(k), id);
  }
}
