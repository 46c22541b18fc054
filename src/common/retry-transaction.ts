/**
 * Postgres may abort a transaction that did nothing wrong: a deadlock victim (40P01) or a
 * serialization failure (40001). Both mean "run the whole transaction again"; its effects
 * were rolled back. Lock ordering keeps these rare; this is the bounded safety net.
 */

/** SQLSTATEs after which re-running the whole transaction is safe and expected to succeed. */
const RETRYABLE_SQLSTATES = new Set(["40P01", "40001"]);

/** The Postgres SQLSTATE of an error from pg or TypeORM (QueryFailedError copies it), if any; not a socket error's code. */
export function sqlState(err: unknown): string | undefined {
  const e = err as { code?: unknown; driverError?: { code?: unknown } } | null;
  const code = e?.code ?? e?.driverError?.code;
  return typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

export function isRetryableTransactionError(err: unknown): boolean {
  const code = sqlState(err);
  return code !== undefined && RETRYABLE_SQLSTATES.has(code);
}

export interface RetryTransactionOptions {
  /** Tries in all, the first included; default 5. */
  attempts?: number;
  /** Backoff cap before try n is min(maxDelayMs, baseDelayMs · 2ⁿ), full jitter; defaults 5 and 250 ms. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Called before each retry (metrics, logs). */
  onRetry?: (err: unknown, attempt: number) => void;
}

/**
 * Runs `tx` (a whole transaction, or one statement in autocommit) and runs it again when
 * Postgres aborted it as a deadlock victim or a serialization failure, up to `attempts`
 * times with jittered exponential backoff. Any other error, or the last one, is thrown.
 * `tx` must start from scratch each time (no state carried over from a failed try).
 */
export async function retryTransaction<T>(tx: () => Promise<T>, opts: RetryTransactionOptions = {}): Promise<T> {
  const attempts = opts.attempts ?? 5;
  const base = opts.baseDelayMs ?? 5;
  const max = opts.maxDelayMs ?? 250;
  for (let attempt = 1; ; attempt++) {
    try {
      return await tx();
    } catch (err) {
      if (attempt >= attempts || !isRetryableTransactionError(err)) throw err;
      opts.onRetry?.(err, attempt);
      await new Promise((r) => setTimeout(r, Math.random() * Math.min(max, base * 2 ** attempt)));
    }
  }
}
