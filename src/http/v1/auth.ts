/**
 * Who is calling a /v1 endpoint: the same API keys as GraphQL (`Authorization: Bearer sb_…`),
 * and Anthropic's `x-api-key` header too (what `@anthropic-ai/sdk` and ANTHROPIC_BASE_URL tools
 * send). Resolved through http/auth.ts's Authenticate, so the per-address budget for requests
 * without a valid key, and the store-outage answer, are the GraphQL server's.
 */
import type { IncomingMessage } from "node:http";
import { UnauthenticatedError } from "../../common/errors";
import type { Viewer } from "../../domain/viewer";
import { httpAuthenticate, REFUSAL_MESSAGE, viewerOf, type Authenticate } from "../auth";

/** The key a /v1 request presents: `Authorization: Bearer …`, else `x-api-key`. */
export function presentedKey(req: IncomingMessage): string | undefined {
  const auth = req.headers.authorization;
  if (typeof auth === "string" && auth.trim()) return auth;
  const x = req.headers["x-api-key"];
  return typeof x === "string" && x.trim() ? `Bearer ${x.trim()}` : undefined;
}

/**
 * Resolves a /v1 request's viewer.
 *
 * @returns a function that gives the viewer, or throws: UnauthenticatedError (401) for a missing,
 *   invalid, revoked or expired key, or one of a disabled user (the message says which); HttpError 429 past the address's budget; HttpError 503 on a store outage.
 */
export function v1Authenticate(authenticate: Authenticate) {
  const caller = httpAuthenticate(async (req) => authenticate(req, presentedKey(req)));
  return async (req: IncomingMessage, requestId: string): Promise<Viewer> => {
    const { key, auth, refusal } = await caller(req);
    if (!auth)
      throw new UnauthenticatedError(key ? REFUSAL_MESSAGE[refusal ?? "invalid"] : "Send an API key: Authorization: Bearer <key> (or x-api-key)", refusal ? { reason: refusal } : {});
    return viewerOf(auth, requestId);
  };
}
