/** Budgets per tier, createGeneration rate limits per tier, and queue admission. */
import { int, num, oneOf } from "../spec";

export type Tier = "free" | "pro" | "enterprise";

export const quotas = {
  /** Budget period; periods start at UTC boundaries ("week" from Monday). */
  period: oneOf("QUOTA_PERIOD", "month", ["month", "week", "day"] as const),
  /** Budget per period by tier, USD (an admin's `setQuota` overrides per user). */
  tierLimitsUsd: {
    free: num("QUOTA_FREE_USD", 5),
    pro: num("QUOTA_PRO_USD", 100),
    enterprise: num("QUOTA_ENTERPRISE_USD", 10_000),
  } satisfies Record<Tier, unknown>,
  /** Warn once per period when spent + reserved crosses this share of the limit. */
  warnRatio: num("QUOTA_WARN_RATIO", 0.8, 0, 1),
};

/** A top-level field: its doc is on its configSpec entry (config.ts), where hovers find it. */
export const rateLimits = {
  /** Free users. */
  free: { perMinute: int("RATE_LIMIT_FREE_PER_MINUTE", 120), perHour: int("RATE_LIMIT_FREE_PER_HOUR", 2000) },
  /** Pro users. */
  pro: { perMinute: int("RATE_LIMIT_PRO_PER_MINUTE", 1200), perHour: int("RATE_LIMIT_PRO_PER_HOUR", 50_000) },
  /** Enterprise users. */
  enterprise: { perMinute: int("RATE_LIMIT_ENTERPRISE_PER_MINUTE", 12_000), perHour: int("RATE_LIMIT_ENTERPRISE_PER_HOUR", 500_000) },
} satisfies Record<Tier, unknown>;

export const admission = {
  /** A user's QUEUED + RUNNING generations before QUEUE_FULL. */
  maxQueuedPerUser: int("MAX_QUEUED_PER_USER", 5000, 1),
  /** Jobs waiting in the queue (all users, sampled each second) before QUEUE_FULL. */
  maxQueuedTotal: int("MAX_QUEUED_TOTAL", 200_000, 1),
};
