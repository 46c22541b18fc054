/**
 * Per-provider-key RPM and TPM limits, exact across every worker (rate-limiter-flexible on
 * Redis). TPM reserves the request's input tokens plus its max output tokens before the call
 * and refunds the unused part after it. A key over its limit is skipped (another key, or the
 * job waits in delayed until capacity returns): queue instead of 429.
 */
import type { Redis } from "ioredis";
import { RateLimiterRedis, RateLimiterRes } from "rate-limiter-flexible";

export interface KeyLimitsConfig {
  keyRpm: number;
  keyTpm: number;
  keyLimits: Record<string, { rpm?: number; tpm?: number }>;
}

export type KeyAdmission = { ok: true; tokens: number } | { ok: false; waitMs: number; reason: string } | { ok: false; never: true; reason: string };

export class KeyLimits {
  private readonly limiters = new Map<string, { rpm?: RateLimiterRedis; tpm?: RateLimiterRedis; rpmN: number; tpmN: number }>();

  constructor(private readonly redis: Redis, private readonly prefix: string, private readonly cfg: KeyLimitsConfig) {}

  private for(provider: string) {
    let l = this.limiters.get(provider);
    if (!l) {
      const rpmN = this.cfg.keyLimits[provider]?.rpm ?? this.cfg.keyRpm;
      const tpmN = this.cfg.keyLimits[provider]?.tpm ?? this.cfg.keyTpm;
      l = {
        rpmN, tpmN,
        rpm: rpmN > 0 ? new RateLimiterRedis({ storeClient: this.redis, keyPrefix: `${this.prefix}:krpm:${provider}`, points: rpmN, duration: 60 }) : undefined,
        tpm: tpmN > 0 ? new RateLimiterRedis({ storeClient: this.redis, keyPrefix: `${this.prefix}:ktpm:${provider}`, points: tpmN, duration: 60 }) : undefined,
      };
      this.limiters.set(provider, l);
    }
    return l;
  }

  limited(provider: string): boolean {
    const l = this.for(provider);
    return !!(l.rpm || l.tpm);
  }

  /** Takes one request and `tokens` tokens from the key's minute; refuses (with the wait) when either is spent. */
  async admit(provider: string, label: string, tokens: number): Promise<KeyAdmission> {
    const l = this.for(provider);
    if (l.tpm && tokens > l.tpmN) return { ok: false, never: true, reason: `the request needs up to ${tokens} tokens, more than a ${provider} key's ${l.tpmN} tokens per minute` };
    try {
      if (l.rpm) await l.rpm.consume(label, 1);
    } catch (e) {
      if (e instanceof RateLimiterRes) return { ok: false, waitMs: e.msBeforeNext, reason: `${provider} key "${label}" used its ${l.rpmN} requests per minute` };
      throw e;
    }
    if (!l.tpm) return { ok: true, tokens: 0 };
    try {
      await l.tpm.consume(label, tokens);
      return { ok: true, tokens };
    } catch (e) {
      if (l.rpm) await l.rpm.reward(label, 1).catch(() => undefined); // no call was made
      if (e instanceof RateLimiterRes) return { ok: false, waitMs: e.msBeforeNext, reason: `${provider} key "${label}" used its ${l.tpmN} tokens per minute` };
      throw e;
    }
  }

  /** Gives back what a call reserved but did not use (or everything, when no call was made). */
  async refund(provider: string, label: string, tokens: number): Promise<void> {
    const l = this.for(provider);
    if (l.tpm && tokens > 0) await l.tpm.reward(label, tokens).catch(() => undefined);
  }
}
