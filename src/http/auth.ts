/**
 * Bearer key → viewer, once, for GraphQL over HTTP, SSE and WebSocket alike. Each transport
 * only decides how to say no (HTTP status, WebSocket close code).
 */
import type { IncomingMessage } from "node:http";
import type { ApiKeyService, AuthenticatedKey, KeyRefusal } from "../domain/auth/api-key.service";
import { AuthRateLimitedError } from "../domain/auth/auth-throttle";
import type { Viewer } from "../domain/viewer";
import { clientAddress, HttpError } from "./http-utils";
import { isStoreUnavailable, STORE_RETRY_AFTER_SECONDS } from "./unavailable";

/** Who sent a request: the key presented (if any), what it resolved to, and why it was refused. */
export type Caller = { key?: string; auth: AuthenticatedKey | null; refusal?: KeyRefusal };

/** What a client is told when its key is refused (the UNAUTHENTICATED message; `reason` says the same in one word). */
export const REFUSAL_MESSAGE: Record<KeyRefusal, string> = {
  invalid: "The API key is invalid or has been revoked",
  revoked: "The API key has been revoked",
  expired: "The API key has expired",
  disabled: "The API key's user has been disabled",
};

/** Resolves a request's `authorization` value (header or connectionParams) to its caller. */
export type Authenticate = (req: IncomingMessage, authorization: unknown) => Promise<Caller>;

const bearer = (h: unknown): string | undefined => {
  if (typeof h !== "string") return undefined;
  const m = /^Bearer\s+(.+)$/i.exec(h.trim());
  return m ? m[1].trim() : h.trim() || undefined;
};

/**
 * A valid key's owner, or no key at all within the client address's budget for requests without
 * a valid key. Throws AuthRateLimitedError past that budget, or the store's error when it is down.
 */
export function createAuthenticate(apiKeys: Pick<ApiKeyService, "anonymous" | "authenticate" | "refusal">, trustProxyHops: number): Authenticate {
  return async (req, authorization) => {
    const key = bearer(authorization);
    const from = clientAddress(req, trustProxyHops);
    if (!key) return (await apiKeys.anonymous(from), { auth: null });
    const auth = await apiKeys.authenticate(key, from);
    // Only a refused key costs the second lookup (those are throttled per address above).
    return auth ? { key, auth } : { key, auth, refusal: await apiKeys.refusal(key) };
  };
}

export const viewerOf = (auth: AuthenticatedKey, requestId: string): Viewer => ({
  userId: auth.user.id, role: auth.user.role, tier: auth.user.tier, apiKeyId: auth.keyId, requestId, keyLimits: auth.limits,
  keyExpiresAt: auth.limits.expiresAt,
});

/**
 * HTTP (GraphQL and SSE): resolves the caller before anything is parsed; past the address's
 * budget 429 RATE_LIMITED (no lookup, no parse), a store outage 503 with a retry hint.
 */
export function httpAuthenticate(authenticate: Authenticate) {
  return async (req: IncomingMessage): Promise<Caller> => {
    try {
      return await authenticate(req, req.headers.authorization);
    } catch (e) {
      if (e instanceof AuthRateLimitedError)
        throw new HttpError(429, "RATE_LIMITED", e.message, { limit: e.limit, window: "minute", retryAfterSeconds: e.retryAfterSeconds }, { "retry-after": String(e.retryAfterSeconds) });
      if (isStoreUnavailable(e))
        throw new HttpError(503, "SERVICE_UNAVAILABLE", `A data store is unavailable; retry in ${STORE_RETRY_AFTER_SECONDS}s`, { retryAfterSeconds: STORE_RETRY_AFTER_SECONDS }, { "retry-after": String(STORE_RETRY_AFTER_SECONDS) });
      throw e;
    }
  };
}
