/**
 * The SDK's failures as ProviderErrors. Its errors (InferenceClientProviderApiError) carry
 * the status and body under `httpResponse` (the README says `response`) and no headers at
 * all, so the per-call fetch keeps the last response's headers ({@link Seen}) for Retry-After.
 */
import { InferenceClientInputError, InferenceClientProviderApiError, InferenceClientProviderOutputError } from "@huggingface/inference";
import { ProviderError } from "../contract";
import { errorFromStatus, invalidRequest, messageOf, scrub, timedOut, toProviderError, unusableResponse } from "../shared/errors";

type Body = Record<string, unknown>;

/** What the per-call fetch saw of the last response (the SDK's errors keep no headers). */
export interface Seen {
  headers?: Headers;
  /** A copy of a successful response body (non-streamed text: usage and finish_reason). */
  copy?: Response;
}

/** Any failure of an SDK call → ProviderError; `timedOut` is the per-attempt timeout's signal. */
export function huggingFaceError(provider: string, e: unknown, signal: AbortSignal, timeout: AbortSignal, seen: Seen, partial = false): ProviderError {
  if (e instanceof ProviderError) return e;
  if (!signal.aborted && timeout.aborted) return timedOut(provider, partial);
  if (!signal.aborted && e instanceof InferenceClientProviderApiError) {
    const status = e.httpResponse?.status;
    const body = e.httpResponse?.body;
    if (typeof status === "number" && status >= 400) {
      const pe = errorFromStatus(provider, status, messageOf(body) || e.message, seen.headers);
      // "Model … is currently loading" comes with the expected wait in seconds.
      const estimated = body && typeof body === "object" ? (body as Body).estimated_time : undefined;
      const retryAfterSeconds =
        pe.retryAfterSeconds ?? (status === 503 && typeof estimated === "number" && estimated > 0 ? Math.ceil(estimated) : undefined);
      return new ProviderError({ provider, kind: pe.kind, status, message: pe.message, retryAfterSeconds, partial });
    }
    // A 200 that is not an event stream, or an `{"error": …}` event inside one.
    if (/event stream content type/i.test(e.message)) return unusableResponse(provider, e.message, partial);
    const b = (body && typeof body === "object" ? body : {}) as Body;
    const kind = b.error_type === "validation" ? "invalid_request" : "unavailable";
    return new ProviderError({ provider, kind, partial, message: `${provider} reported an error mid-stream: ${scrub(messageOf(b) || e.message)}` });
  }
  if (!signal.aborted && e instanceof InferenceClientProviderOutputError) return unusableResponse(provider, e.message, partial);
  if (!signal.aborted && e instanceof InferenceClientInputError) return invalidRequest(provider, scrub(e.message));
  return toProviderError(provider, e, signal, { partial });
}
