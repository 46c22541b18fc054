/** The vocabulary of a key lease (KeyPool.withKey): what a call under a pooled key gets and reports back. */

export type KeyOutcome = "ok" | "rate_limited" | "auth" | "error" | "cancelled";

export type Acquired =
  | { kind: "key"; label: string; key: string; leaseId: string }
  /** Every usable key is cooling down or at its concurrency cap: try again after delayMs. */
  | { kind: "wait"; delayMs: number; reason: string; cause: "cooldown" | "busy" }
  /** No key can ever serve (none configured, or all disabled). */
  | { kind: "unavailable"; reason: string };

/** A key held for one call by {@link KeyPool.withKey}. */
export interface KeyLease {
  label: string;
  key: string;
  /** Ends the lease now and records the verdict (once: later calls do nothing). */
  end(verdict: KeyVerdict): Promise<void>;
}

/** How the call under a lease went: recorded on the key when the lease ends. */
export interface KeyVerdict {
  outcome: KeyOutcome;
  /** The provider's Retry-After: the key cools down this long (default: defaultCooldownMs). */
  retryAfterMs?: number;
  /** Tokens the call used: the rest of its TPM reservation is refunded. Omitted: the reservation is kept. */
  usedTokens?: number;
}

export interface WithKeyOptions {
  /** The lease expires by itself after this long (a worker that dies leaks nothing). */
  ttlMs: number;
  /** Only this key (an upstream task started under it). */
  label?: string;
  /** Keys that already failed in this run: another key is tried first… */
  exclude?: ReadonlySet<string>;
  /** …and, when every other key is unusable, the least bad of the excluded ones rather than none. */
  fallBackToExcluded?: boolean;
  /** Worst-case tokens of the call, taken from the key's per-minute limits (RPM/TPM) when it has any. */
  tokens?: () => number;
}

/** Why no key was leased (nothing was called). */
export type NoKey =
  /** Every usable key is cooling down, at its concurrency cap (`busy`) or its RPM/TPM minute is spent (`limit`). */
  | { kind: "wait"; delayMs: number; reason: string; cause: "cooldown" | "busy" | "limit" }
  /** No key can ever serve (none configured, or all disabled). */
  | { kind: "unavailable"; reason: string }
  /** The call needs more tokens than a key's TPM: no key will ever take it. */
  | { kind: "too_large"; reason: string };

/** A provider error's verdict on the key it was called with (a bad request says nothing against the key). */
export function keyOutcomeOf(kind: string): KeyOutcome {
  if (kind === "rate_limited") return "rate_limited";
  if (kind === "auth") return "auth";
  if (kind === "cancelled") return "cancelled";
  return kind === "invalid_request" || kind === "content_policy" ? "ok" : "error";
}

/** A lease whose `end` runs once: later calls (a caller's error path after it already ended it) do nothing. */
export function onceEnded(label: string, key: string, end: (v: KeyVerdict) => Promise<void>): KeyLease {
  let ended = false;
  return {
    label, key,
    async end(v) {
      if (ended) return;
      ended = true;
      await end(v);
    },
  };
}
