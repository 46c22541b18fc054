/**
 * One mapping for the Stainless-generated SDKs (`openai`, `@anthropic-ai/sdk`): both raise
 * the same error classes, each from its own package, so the adapter hands its package's
 * classes in. On top of the shared {@link toProviderError}: the SDK's own timeout, and an
 * error event inside a 200 stream, which the SDK raises as an APIError without a status.
 */
import { ProviderError } from "../contract";
import { errorFromStatus, scrub, timedOut, toProviderError, withPartial } from "./errors";

/** What an SDK's APIError carries that the mapping reads. */
export interface SdkApiError {
  status?: number;
  error?: unknown;
  type?: unknown;
}

type ErrorClass<T extends object = object> = abstract new (...args: never[]) => T;

/** The SDK's error classes (`import { APIError, APIConnectionError, APIConnectionTimeoutError } from "<sdk>"`). */
export interface StainlessErrorClasses {
  APIError: ErrorClass<SdkApiError>;
  APIConnectionError: ErrorClass;
  APIConnectionTimeoutError: ErrorClass;
}

/**
 * An error event inside a stream, as the vendor describes it: the HTTP status the same error
 * has when it comes before the stream (undefined when the event names none) and its message.
 */
export type StreamErrorReader = (e: SdkApiError) => { status?: number; message: string };

/** Any failure of an SDK call → ProviderError (`partial`: text had already streamed). */
export function fromStainlessError(
  provider: string, sdk: StainlessErrorClasses, readStreamError: StreamErrorReader, e: unknown, signal: AbortSignal, partial = false,
): ProviderError {
  if (e instanceof ProviderError) return e;
  if (!signal.aborted && e instanceof sdk.APIConnectionTimeoutError) return timedOut(provider, partial);
  if (!signal.aborted && e instanceof sdk.APIError && e.status === undefined && !(e instanceof sdk.APIConnectionError) && e.error) {
    const { status, message } = readStreamError(e);
    if (status) return withPartial(errorFromStatus(provider, status, message), partial);
    return new ProviderError({ provider, kind: "unavailable", partial, message: `${provider} reported an error mid-stream: ${scrub(message)}` });
  }
  return toProviderError(provider, e, signal, { partial });
}
