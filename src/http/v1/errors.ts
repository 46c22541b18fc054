/**
 * Errors of the /v1 endpoints, in each API's own JSON shape and HTTP status.
 *
 * Everything a /v1 request can meet — a thrown domain/GraphQL error (its `extensions.code`), an
 * HttpError of the plain server (413, 429 past the address budget, 503 store outage), or a
 * generation that ended FAILED (its `errorCode`) — becomes one {@link V1Error}; one formatter per
 * API shape then writes it:
 * - OpenAI: `{"error":{"message","type","param","code"}}`
 * - Anthropic: `{"type":"error","error":{"type","message"}}`
 * 429 and 503 carry `Retry-After` when the cause says how long to wait.
 */
import type { ServerResponse } from "node:http";
import { HttpError, sendJson } from "../http-utils";
import { isStoreUnavailable, STORE_RETRY_AFTER_SECONDS } from "../unavailable";

/** Which API's error shape to answer in. */
export type ApiShape = "openai" | "anthropic";

/** One error, API-neutral: what both formatters need. */
export interface V1Error {
  status: number;
  /** Switchboard's code (BAD_USER_INPUT, RATE_LIMITED, QUOTA_EXCEEDED, a generation's errorCode, …). */
  code: string;
  message: string;
  /** The request field at fault (OpenAI's `param`), when known. */
  param?: string | null;
  retryAfterSeconds?: number;
}

/** Switchboard code → HTTP status (codes not listed: 500). */
const STATUS: Record<string, number> = {
  BAD_USER_INPUT: 400, BAD_REQUEST: 400, INVALID_REQUEST: 400, CONTENT_POLICY: 400,
  UNAUTHENTICATED: 401, QUOTA_EXCEEDED: 429, FORBIDDEN: 403, NOT_FOUND: 404, METHOD_NOT_ALLOWED: 405, CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413, RATE_LIMITED: 429, QUEUE_FULL: 429,
  PROVIDER_UNAVAILABLE: 502, PROVIDER_AUTH: 502, BAD_RESPONSE: 502,
  SERVICE_UNAVAILABLE: 503, CIRCUIT_OPEN: 503, MODERATION_UNAVAILABLE: 503, TIMEOUT: 504, DEADLINE_EXCEEDED: 504,
};

/** OpenAI's `type` per status (insufficient_quota is its own type, as OpenAI sends it). */
function openaiType(e: V1Error): string {
  if (e.code === "QUOTA_EXCEEDED") return "insufficient_quota";
  if (e.status === 401) return "authentication_error";
  if (e.status === 403) return "permission_error";
  if (e.status === 429) return "rate_limit_error";
  if (e.status < 500) return "invalid_request_error";
  return "server_error";
}

/** OpenAI's `code`: its own names where it has one, else ours in lower case. */
function openaiCode(e: V1Error): string {
  const known: Record<string, string> = {
    UNAUTHENTICATED: "invalid_api_key", RATE_LIMITED: "rate_limit_exceeded", QUOTA_EXCEEDED: "insufficient_quota",
    FORBIDDEN: "model_not_allowed", NOT_FOUND: "not_found",
  };
  return known[e.code] ?? e.code.toLowerCase();
}

/** Anthropic's error `type` and status (its budget error is billing_error, 402). */
function anthropic(e: V1Error): { status: number; type: string } {
  if (e.code === "QUOTA_EXCEEDED") return { status: 402, type: "billing_error" };
  const byStatus: Record<number, string> = {
    400: "invalid_request_error", 401: "authentication_error", 403: "permission_error", 404: "not_found_error",
    409: "invalid_request_error", 413: "request_too_large", 429: "rate_limit_error", 503: "overloaded_error", 504: "timeout_error",
  };
  return { status: e.status, type: byStatus[e.status] ?? (e.status < 500 ? "invalid_request_error" : "api_error") };
}

/** The Retry-After of a QUEUE_FULL refusal (it carries no hint of its own). */
export const QUEUE_FULL_RETRY_AFTER_SECONDS = 1;

const retryOf = (x: Record<string, unknown> | undefined): number | undefined =>
  typeof x?.retryAfterSeconds === "number" && Number.isFinite(x.retryAfterSeconds) ? Math.max(1, Math.ceil(x.retryAfterSeconds)) : undefined;

/**
 * A thrown error as a V1Error. GraphQL-style errors keep their message and `field` (→ param);
 * anything unrecognised is a 500 whose text is hidden in production (it is logged by the router).
 */
export function fromThrown(err: unknown, production: boolean): V1Error {
  if (err instanceof HttpError)
    return { status: err.status, code: err.code, message: err.message, retryAfterSeconds: retryOf(err.extensions) ?? numberHeader(err.headers["retry-after"]) };
  const ext = (err as { extensions?: Record<string, unknown> } | null)?.extensions;
  const code = typeof ext?.code === "string" ? ext.code : undefined;
  if (code && code !== "INTERNAL_SERVER_ERROR") {
    // A full queue says no more than "not now": its depth is re-sampled every second.
    const retryAfterSeconds = retryOf(ext) ?? (code === "QUEUE_FULL" ? QUEUE_FULL_RETRY_AFTER_SECONDS : undefined);
    return { status: STATUS[code] ?? 500, code, message: (err as Error).message, param: typeof ext?.field === "string" ? ext.field : null, retryAfterSeconds };
  }
  if (isStoreUnavailable(err))
    return { status: 503, code: "SERVICE_UNAVAILABLE", message: `A data store is unavailable; retry in ${STORE_RETRY_AFTER_SECONDS}s`, retryAfterSeconds: STORE_RETRY_AFTER_SECONDS };
  return { status: 500, code: "INTERNAL_SERVER_ERROR", message: production ? "Internal server error" : String((err as Error)?.message ?? err) };
}

/** A generation that ended FAILED (or CANCELLED), by its errorCode. */
export function fromGeneration(g: { status: string; errorCode: string | null; errorMessage: string | null }): V1Error {
  if (g.status === "CANCELLED") return { status: 409, code: "CANCELLED", message: "The generation was cancelled" };
  const code = g.errorCode ?? "PROVIDER_UNAVAILABLE";
  return { status: STATUS[code] ?? 502, code, message: g.errorMessage ?? code };
}

function numberHeader(v: string | undefined): number | undefined {
  const n = v == null ? NaN : Number(v);
  return Number.isFinite(n) ? n : undefined;
}

/** OpenAI's error body: `{"error":{"message","type","param","code"}}`. */
export function openaiErrorBody(e: V1Error): { error: { message: string; type: string; param: string | null; code: string } } {
  return { error: { message: e.message, type: openaiType(e), param: e.param ?? null, code: openaiCode(e) } };
}

/** Anthropic's error body: `{"type":"error","error":{"type","message"}}`. */
export function anthropicErrorBody(e: V1Error): { type: "error"; error: { type: string; message: string } } {
  return { type: "error", error: { type: anthropic(e).type, message: e.message } };
}

/** The status a V1Error is answered with in an API's shape. */
export const statusFor = (api: ApiShape, e: V1Error): number => (api === "anthropic" ? anthropic(e).status : e.status);

/** The error body in an API's shape (also what a stream's error event carries). */
export const errorBody = (api: ApiShape, e: V1Error): object => (api === "anthropic" ? anthropicErrorBody(e) : openaiErrorBody(e));

/** Answers a request with the error, in its API's shape, with Retry-After when known. */
export function sendV1Error(res: ServerResponse, api: ApiShape, e: V1Error, headers: Record<string, string> = {}): void {
  const h: Record<string, string> = { ...headers, ...(e.retryAfterSeconds != null ? { "retry-after": String(e.retryAfterSeconds) } : {}) };
  if (e.status === 401) h["www-authenticate"] = "Bearer";
  sendJson(res, statusFor(api, e), errorBody(api, e), h);
}
