import { ProviderError, type ProviderCall } from "../contract";
import { sleep } from "./pacing";
import type { SimulateOptions, SimulatedFailure } from "./simulate-options";

/**
 * The error an injected failure throws, shaped as the real upstream would report it:
 * rate_limited → 429 with `retryAfterSeconds` (default 1), unavailable → 503,
 * overloaded → 529 (kind "unavailable"), bad_response → 200 with an unusable body,
 * cut_stream → kind "bad_response" (`partial` when text had already streamed).
 */
export function injectedError(
  failure: Exclude<SimulatedFailure, "timeout">,
  options: SimulateOptions,
  provider: string,
  partial = false,
): ProviderError {
  switch (failure) {
    case "rate_limited":
      return new ProviderError({
        provider,
        kind: "rate_limited",
        status: 429,
        retryAfterSeconds: options.retryAfterSeconds ?? 1,
        message: "simulated upstream rate limit (injected failure)",
      });
    case "unavailable":
      return new ProviderError({
        provider,
        kind: "unavailable",
        status: 503,
        message: "simulated upstream unavailable (injected failure)",
      });
    case "overloaded":
      return new ProviderError({
        provider,
        kind: "unavailable",
        status: 529,
        message: "simulated upstream overloaded (injected failure)",
      });
    case "bad_response":
      return new ProviderError({
        provider,
        kind: "bad_response",
        status: 200,
        message: "simulated malformed upstream response (injected failure)",
      });
    case "cut_stream":
      return new ProviderError({
        provider,
        kind: "bad_response",
        partial,
        message: "simulated stream cut mid-answer",
      });
  }
}

/**
 * An injected upstream hang: waits until `call.timeoutMs` elapses, then throws kind
 * "timeout". If `call.signal` aborts first it rejects at once (cancelled, or timeout when
 * the abort reason is a TimeoutError).
 */
export async function hangUntilTimeout(call: ProviderCall, provider: string): Promise<never> {
  await sleep(call.timeoutMs, call.signal, provider);
  throw new ProviderError({
    provider,
    kind: "timeout",
    message: `simulated upstream did not answer within ${call.timeoutMs} ms (injected failure)`,
  });
}

/** A request the simulated upstream rejects (HTTP 400, kind "invalid_request"). */
export function invalidRequest(provider: string, message: string): ProviderError {
  return new ProviderError({ provider, kind: "invalid_request", status: 400, message });
}
