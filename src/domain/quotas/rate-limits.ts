/**
 * Per-user request rate limits by tier, per minute and per hour, exact across all API nodes
 * (rate-limiter-flexible on Redis). An API key may have a per-minute limit of its own, counted
 * the same way on top of its user's. A rejected request gets RATE_LIMITED with
 * retryAfterSeconds and nothing is written.
 */
import { GraphQLError } from "graphql";
import type { Redis } from "ioredis";
import { RateLimiterRedis, RateLimiterRes } from "rate-limiter-flexible";
import type { AppConfig, Tier } from "../../config/config";

export class RateLimitedError extends GraphQLError {
  constructor(window: "minute" | "hour", limit: number, res: RateLimiterRes, apiKeyId?: string) {
    const retryAfterSeconds = Math.max(1, Math.ceil(res.msBeforeNext / 1000));
    super(`Rate limit of ${limit} generations per ${window}${apiKeyId ? " for this API key" : ""} reached; retry in ${retryAfterSeconds}s`, {
      extensions: {
        ...(apiKeyId ? { apiKeyId } : {}),
        code: "RATE_LIMITED",
        limit,
        window,
        remaining: 0,
        retryAfterSeconds,
        resetsAt: new Date(Date.now() + res.msBeforeNext).toISOString(),
      },
    });
  }
}

/** An API key's own limit: its id and requests per minute. */
export interface KeyRateLimit {
  apiKeyId: string;
  perMinute: number;
}

type Limiter = { limiter: RateLimiterRedis; window: "minute" | "hour"; points: number; apiKeyId?: string };

export class RateLimits {
  private readonly limiters = new Map<string, Limiter[]>();
  /** One per distinct per-key limit (points are fixed per limiter); a key whose limit changes starts a fresh window. */
  private readonly keyLimiters = new Map<number, RateLimiterRedis>();

  constructor(private readonly redis: Redis, private readonly prefix: string, cfg: AppConfig["rateLimits"]) {
    for (const tier of Object.keys(cfg) as Tier[]) {
      const list = [];
      for (const [window, points, duration] of [["minute", cfg[tier].perMinute, 60], ["hour", cfg[tier].perHour, 3600]] as const) {
        if (points > 0) list.push({ window, points, limiter: new RateLimiterRedis({ storeClient: redis, keyPrefix: `${prefix}:rl:${tier}:${window}`, points, duration }) });
      }
      this.limiters.set(tier, list);
    }
  }

  private keyLimiter(points: number): RateLimiterRedis {
    let l = this.keyLimiters.get(points);
    if (!l) this.keyLimiters.set(points, (l = new RateLimiterRedis({ storeClient: this.redis, keyPrefix: `${this.prefix}:rl:key:${points}:minute`, points, duration: 60 })));
    return l;
  }

  /** Counts one request for the user (and its key, if the key has a limit); throws RateLimitedError when a window is full. */
  async consume(userId: string, tier: Tier, key?: KeyRateLimit | null): Promise<void> {
    const list: Limiter[] = [...(this.limiters.get(tier) ?? [])];
    const ids = list.map(() => userId);
    if (key && key.perMinute > 0) {
      list.push({ limiter: this.keyLimiter(key.perMinute), window: "minute", points: key.perMinute, apiKeyId: key.apiKeyId });
      ids.push(key.apiKeyId);
    }
    // Every window at once: one round trip on the auto-pipelined connection, not one each.
    const results = await Promise.allSettled(list.map((l, i) => l.limiter.consume(ids[i], 1)));
    for (const [i, r] of results.entries()) {
      if (r.status === "fulfilled") continue;
      if (r.reason instanceof RateLimiterRes) throw new RateLimitedError(list[i].window, list[i].points, r.reason, list[i].apiKeyId);
      throw r.reason;
    }
  }
}
