/**
 * One mapping from upstream failures to {@link ProviderError}, shared by every adapter:
 * HTTP statuses (direct fetch or an SDK's APIError), aborts, network errors and bodies that
 * are not what the wire format promises. Messages never include request headers (keys).
 */
import { ProviderError, type ProviderErrorKind } from "../contract";

/** Retry-After as seconds: delta-seconds or an HTTP date; undefined when absent or unparseable. */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (value == null || value === "") return undefined;
  const n = Number(value);
  if (Number.isFinite(n)) return Math.max(0, n);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - now) / 1000));
}

export function kindForStatus(status: number): ProviderErrorKind {
  if (status === 401 || status === 403) return "auth";
  if (status === 429) return "rate_limited";
  if (status === 408 || status === 504) return "timeout";
  if (status >= 500) return "unavailable"; // 500, 502, 503, 529 overloaded
  return "invalid_request"; // 400, 404, 413, 422, …
}

const CONTENT_POLICY = /content[_ ]?(policy|filter)|safety|moderation/i;

type HeaderBag = Headers | Record<string, string | string[] | undefined> | undefined;

function header(h: HeaderBag, name: string): string | undefined {
  if (!h) return undefined;
  if (typeof (h as Headers).get === "function") return (h as Headers).get(name) ?? undefined;
  const v = (h as Record<string, string | string[] | undefined>)[name] ?? (h as Record<string, string | string[] | undefined>)[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

/** Keeps an upstream message short and free of anything that looks like a key. */
export function scrub(message: string): string {
  return message.replace(/\b(sk|sb|hf|r8|pk|key)[-_][A-Za-z0-9_-]{8,}/g, "$1-***").replace(/Bearer\s+\S+/gi, "Bearer ***").slice(0, 500);
}

export function errorFromStatus(provider: string, status: number, message: string, headers?: HeaderBag): ProviderError {
  let kind = kindForStatus(status);
  if (kind === "invalid_request" && CONTENT_POLICY.test(message)) kind = "content_policy";
  return new ProviderError({
    provider,
    kind,
    status,
    message: `${provider} answered ${status}: ${scrub(message) || "no message"}`,
    retryAfterSeconds: parseRetryAfter(header(headers, "retry-after")),
  });
}

/** Reads an error response's message from common JSON shapes ({error:{message}}, {error:"…"}, {message}, {detail}). */
export function messageOf(body: unknown): string {
  if (typeof body === "string") {
    try {
      return messageOf(JSON.parse(body));
    } catch {
      return body;
    }
  }
  if (!body || typeof body !== "object") return "";
  const b = body as Record<string, unknown>;
  const e = b.error;
  if (typeof e === "string") return e;
  if (e && typeof e === "object" && typeof (e as Record<string, unknown>).message === "string") return (e as Record<string, string>).message;
  for (const k of ["message", "detail", "error_message"]) if (typeof b[k] === "string") return b[k] as string;
  const base = b.base_resp as Record<string, unknown> | undefined; // MiniMax
  if (base && typeof base.status_msg === "string") return base.status_msg;
  return JSON.stringify(body).slice(0, 300);
}

const isAbort = (e: unknown): boolean =>
  e instanceof Error && (e.name === "AbortError" || e.name === "APIUserAbortError" || e.name === "TimeoutError" || /aborted/i.test(e.message));

/**
 * Any thrown value → ProviderError. `signal` tells an abort we asked for (cancel, timeout:
 * kind `cancelled`; the runner reclassifies a timeout) from a connection the server dropped.
 */
export function toProviderError(provider: string, e: unknown, signal?: AbortSignal, opts: { partial?: boolean } = {}): ProviderError {
  if (e instanceof ProviderError) return e;
  if (signal?.aborted || (isAbort(e) && signal?.aborted !== false))
    return new ProviderError({ provider, kind: "cancelled", message: "the call was aborted", partial: opts.partial });
  const err = e as { status?: unknown; statusCode?: unknown; headers?: HeaderBag; message?: string; error?: unknown; response?: { status?: number; headers?: HeaderBag } };
  const status = typeof err?.status === "number" ? err.status : typeof err?.statusCode === "number" ? err.statusCode : err?.response?.status;
  if (typeof status === "number" && status >= 400) {
    return withPartial(errorFromStatus(provider, status, messageOf(err.error) || err.message || "", err.headers ?? err.response?.headers), opts.partial);
  }
  if (e instanceof SyntaxError)
    return new ProviderError({ provider, kind: "bad_response", message: `${provider} sent a malformed response: ${scrub(e.message)}`, partial: opts.partial });
  const msg = scrub((e as Error)?.message ?? String(e));
  if (opts.partial) return new ProviderError({ provider, kind: "bad_response", message: `${provider}'s stream broke mid-answer: ${msg}`, partial: true });
  if (/JSON|Unexpected token|malformed|invalid response/i.test(msg)) return new ProviderError({ provider, kind: "bad_response", message: `${provider} sent a malformed response: ${msg}` });
  return new ProviderError({ provider, kind: "unavailable", message: `${provider} could not be reached: ${msg}` });
}

/**
 * A stream that ended without its end marker (finish_reason, message_stop): never an answer.
 * Partial when text had already gone out, so subscribers get RESTARTED and the next attempt streams afresh.
 */
export function incompleteStream(provider: string, partial: boolean, marker: string): ProviderError {
  return new ProviderError({
    provider,
    kind: "bad_response",
    partial,
    message: partial ? `${provider}'s stream ended mid-answer (no ${marker})` : `${provider}'s stream ended without an answer`,
  });
}

/** The same error, marked partial when text had already streamed (status and Retry-After kept). */
export function withPartial(pe: ProviderError, partial: boolean | undefined): ProviderError {
  if (!partial) return pe;
  return new ProviderError({ provider: pe.provider, kind: pe.kind, status: pe.status, retryAfterSeconds: pe.retryAfterSeconds, message: pe.message, partial: true });
}

/** A request the adapter cannot send as asked (never retried). */
export function invalidRequest(provider: string, message: string): ProviderError {
  return new ProviderError({ provider, kind: "invalid_request", message });
}

/** An answer that is not what the wire format promises (a missing field, a wrong shape). */
export function malformedResponse(provider: string, what: string): ProviderError {
  return new ProviderError({ provider, kind: "bad_response", message: `${provider} sent a malformed response: ${what}` });
}

/** An answer in the right shape whose content cannot be used (no vector, an unreadable image). */
export function unusableResponse(provider: string, message: string, partial = false): ProviderError {
  return new ProviderError({ provider, kind: "bad_response", partial, message: `${provider} sent an unusable response: ${scrub(message)}` });
}

/** The per-attempt timeout ran out before the provider answered (not an abort we asked for). */
export function timedOut(provider: string, partial = false): ProviderError {
  return new ProviderError({ provider, kind: "timeout", partial, message: `${provider} did not answer within the timeout` });
}
