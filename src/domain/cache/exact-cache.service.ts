/**
 * The exact cache, in Redis (its own instance via CACHE_REDIS_URL when set: the queue's
 * Redis must not evict, the cache's may). Entries expire per modality; small index sets let
 * admins invalidate by generation, model or scope.
 */
import type { Redis } from "ioredis";
import type { StoredOutput } from "../../db/entities/generation.entity";
import type { Modality } from "../../providers/contract";

export interface CacheEntry {
  sourceGenerationId: string;
  model: string;
  output: StoredOutput;
  createdAt: string;
}

export interface CacheStats {
  hits: number;
  misses: number;
  writes: number;
  /** Requests that joined an identical one in flight instead of calling a provider. */
  coalesced: number;
}

export class ExactCacheService {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly ttlSeconds: Record<Modality, number>,
    private readonly sharedModels: readonly string[],
  ) {}

  /** "shared" for routes configured as public content, otherwise per user. */
  scopeFor(userId: string, model: string): string {
    return this.sharedModels.includes(model) ? "shared" : `user:${userId}`;
  }

  private entryKey(scopedKey: string) {
    return `${this.prefix}:cache:e:${scopedKey}`;
  }
  private index(kind: "gen" | "model" | "scope", id: string) {
    return `${this.prefix}:cache:i:${kind}:${id}`;
  }
  private statsKey() {
    return `${this.prefix}:cache:stats`;
  }

  async get(scopedKey: string): Promise<CacheEntry | null> {
    const raw = await this.redis.get(this.entryKey(scopedKey));
    void this.redis.hincrby(this.statsKey(), raw ? "hits" : "misses", 1).catch(() => undefined); // statistics: not worth a wait
    return raw ? (JSON.parse(raw) as CacheEntry) : null;
  }

  async set(scopedKey: string, modality: Modality, entry: CacheEntry): Promise<void> {
    const ttl = this.ttlSeconds[modality];
    const scope = scopedKey.slice(0, scopedKey.lastIndexOf(":"));
    const k = this.entryKey(scopedKey);
    if (this.redis.isCluster) return this.setSpread(k, ttl, scope, entry);
    await this.redis
      .multi()
      .set(k, JSON.stringify(entry), "EX", ttl)
      .sadd(this.index("gen", entry.sourceGenerationId), k)
      .expire(this.index("gen", entry.sourceGenerationId), ttl)
      .sadd(this.index("model", entry.model), k)
      .expire(this.index("model", entry.model), ttl, "GT")
      .sadd(this.index("scope", scope), k)
      .expire(this.index("scope", scope), ttl, "GT")
      .hincrby(this.statsKey(), "writes", 1)
      .exec();
  }

  /**
   * Redis Cluster: entries and their indexes stay spread over the cluster (no shared hash tag), so
   * the write is not one MULTI. The indexes are written first and the entry last: a crash between
   * leaves an index naming a missing key (harmless), never an entry no invalidation can find.
   */
  private async setSpread(k: string, ttl: number, scope: string, entry: CacheEntry): Promise<void> {
    const index = (key: string, gt: boolean) => (gt ? this.redis.multi().sadd(key, k).expire(key, ttl, "GT") : this.redis.multi().sadd(key, k).expire(key, ttl)).exec();
    await Promise.all([index(this.index("gen", entry.sourceGenerationId), false), index(this.index("model", entry.model), true), index(this.index("scope", scope), true)]);
    await this.redis.set(k, JSON.stringify(entry), "EX", ttl);
    await this.redis.hincrby(this.statsKey(), "writes", 1);
  }

  /** Deletes every entry produced by a generation, for a model, or in a scope; returns how many. */
  async invalidate(by: { generationId?: string; model?: string; scope?: string }): Promise<number> {
    const sets = [
      by.generationId && this.index("gen", by.generationId),
      by.model && this.index("model", by.model),
      by.scope && this.index("scope", by.scope),
    ].filter(Boolean) as string[];
    let removed = 0;
    for (const s of sets) {
      const keys = await this.redis.smembers(s);
      // A multi-key DEL must stay in one slot on a Redis Cluster: one DEL per entry there.
      if (keys.length) removed += this.redis.isCluster ? (await Promise.all(keys.map((k) => this.redis.del(k)))).reduce((a, b) => a + b, 0) : await this.redis.del(...keys);
      await this.redis.del(s);
    }
    return removed;
  }

  count(field: "coalesced"): void {
    void this.redis.hincrby(this.statsKey(), field, 1).catch(() => undefined);
  }

  async stats(): Promise<CacheStats> {
    const h = await this.redis.hgetall(this.statsKey());
    return { hits: Number(h.hits ?? 0), misses: Number(h.misses ?? 0), writes: Number(h.writes ?? 0), coalesced: Number(h.coalesced ?? 0) };
  }
}
