/**
 * Requests without a valid API key (none, unknown, revoked), counted per client address across
 * every API node (rate-limiter-flexible on Redis). Past the budget an address gets
 * RATE_LIMITED before any key lookup (no Postgres query) or parse, until its minute ends.
 * Keys already resolved on this node still pass (see ApiKeyService.authenticate).
 */
import { GraphQLError } from "graphql";
import type { Redis } from "ioredis";
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from "rate-limiter-flexible";

export class AuthRateLimitedError extends GraphQLError {
  constructor(
    readonly limit: number,
    readonly retryAfterSeconds: number,
  ) {
    super(`Too many requests without a valid API key from this address (${limit} per minute); retry in ${retryAfterSeconds}s`, {
      extensions: { code: "RATE_LIMITED", limit, window: "minute", retryAfterSeconds },
    });
    this.name = "AuthRateLimitedError";
  }
}

const retryAfter = (res: RateLimiterRes) => Math.max(1, Math.ceil(res.msBeforeNext / 1000));

export class AuthThrottle {
  private readonly limiter: RateLimiterRedis;

  constructor(redis: Redis, prefix: string, private readonly perMinute: number) {
    this.limiter = new RateLimiterRedis({
      storeClient: redis, keyPrefix: `${prefix}:authfail`, points: perMinute, duration: 60,
      // Redis unreachable: count on this node rather than failing every anonymous request.
      insuranceLimiter: new RateLimiterMemory({ points: perMinute, duration: 60 }),
    });
  }

  /** Throws AuthRateLimitedError when the address has used up its budget (counts nothing). */
  async check(address: string): Promise<void> {
    const res = await this.limiter.get(address);
    if (res && res.consumedPoints >= this.perMinute) throw new AuthRateLimitedError(this.perMinute, retryAfter(res));
  }

  /** Counts one request without a valid key; throws AuthRateLimitedError past the budget. */
  async fail(address: string): Promise<void> {
    try {
      await this.limiter.consume(address, 1);
    } catch (e) {
      if (e instanceof RateLimiterRes) throw new AuthRateLimitedError(this.perMinute, retryAfter(e));
      throw e;
    }
  }
}
