/**
 * Per-user request rate limits by tier, per minute and per hour, exact across all API nodes
 * (rate-limiter-flexible on Redis). A rejected request gets RATE_LIMITED with
 * retryAfterSeconds and nothing is written.
 */
import { GraphQLError } from "graphql";
import type { Redis } from "ioredis";
import { RateLimiterRedis, RateLimiterRes } from "rate-limiter-flexible";
import type { AppConfig, Tier } from "../../config/config";

export class RateLimitedError extends GraphQLError {
  constructor(window: "minute" | "hour", limit: number, res: RateLimiterRes) {
    const retryAfterSeconds = Math.max(1, Math.ceil(res.msBeforeNext / 1000));
    super(`Rate limit of ${limit} generations per ${window} reached; retry in ${retryAfterSeconds}s`, {
      extensions: {
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

export class RateLimits {
  private readonly limiters = new Map<string, { limiter: RateLimiterRedis; window: "minute" | "hour"; points: number }[]>();

  constructor(redis: Redis, prefix: string, cfg: AppConfig["rateLimits"]) {
    for (const tier of Object.keys(cfg) as Tier[]) {
      const list = [];
      for (const [window, points, duration] of [["minute", cfg[tier].perMinute, 60], ["hour", cfg[tier].perHour, 3600]] as const) {
        if (points > 0) list.push({ window, points, limiter: new RateLimiterRedis({ storeClient: redis, keyPrefix: `${prefix}:rl:${tier}:${window}`, points, duration }) });
      }
      this.limiters.set(tier, list);
    }
  }

  /** Counts one request for the user; throws RateLimitedError when a window is full. */
  async consume(userId: string, tier: Tier): Promise<void> {
    // Both windows at once: one round trip on the auto-pipelined connection, not two.
    const results = await Promise.allSettled((this.limiters.get(tier) ?? []).map((l) => l.limiter.consume(userId, 1)));
    const list = this.limiters.get(tier) ?? [];
    for (const [i, r] of results.entries()) {
      if (r.status === "fulfilled") continue;
      if (r.reason instanceof RateLimiterRes) throw new RateLimitedError(list[i].window, list[i].points, r.reason);
      throw r.reason;
    }
  }
}
