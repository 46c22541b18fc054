/** How adapters hand the caller's signal and per-attempt timeout to an SDK or to fetch. */

/** Health checks carry no per-attempt timeout; the caller's signal still wins when shorter. */
export const HEALTH_TIMEOUT_MS = 30_000;

/** `{ signal, timeout }` request options for the Stainless SDKs (openai, anthropic), which want a positive integer. */
export function sdkRequestOptions(signal: AbortSignal, timeoutMs: number): { signal: AbortSignal; timeout?: number } {
  return Number.isFinite(timeoutMs) && timeoutMs > 0 ? { signal, timeout: Math.max(1, Math.ceil(timeoutMs)) } : { signal };
}

/**
 * The call's signal plus its per-attempt timeout, for SDKs with no timeout of their own.
 * `timedOut` tells the timeout (kind `timeout`) from an abort the caller asked for.
 */
export function withTimeout(signal: AbortSignal, timeoutMs: number): { signal: AbortSignal; timedOut: AbortSignal } {
  const timedOut = Number.isFinite(timeoutMs) && timeoutMs > 0 ? AbortSignal.timeout(Math.ceil(timeoutMs)) : new AbortController().signal;
  return { signal: AbortSignal.any([signal, timedOut]), timedOut };
}
