/**
 * How a GraphQL WebSocket is closed when its API key does not let it in, one code per cause so
 * a client can tell them apart (graphql-ws's own 4xxx range; stable, listed in the README).
 * graphql-ws clients never retry 4401; for the others pass `shouldRetry` that returns false for
 * these codes (a retry with the same key cannot succeed).
 */
export const WS_AUTH_CLOSE = {
  /** No key in `connectionParams.authorization` (graphql-ws's Unauthorized). */
  missing: { code: 4401, reason: 'Unauthorized: no API key; send connectionParams.authorization = "Bearer <key>"' },
  /** A key no user has, or malformed (graphql-ws's Forbidden). */
  invalid: { code: 4403, reason: "Forbidden: invalid API key" },
  /** A real key that was revoked; also closes open sockets the moment it is revoked. */
  revoked: { code: 4410, reason: "Forbidden: API key revoked" },
  /** A key past its expiresAt (set when created, or by a rotation's overlap); also closes open sockets the moment it expires. */
  expired: { code: 4419, reason: "Forbidden: API key expired" },
  /** A key whose user an admin disabled; also closes open sockets the moment the user is disabled. */
  disabled: { code: 4423, reason: "Forbidden: user disabled" },
} as const;

export type WsAuthRefusal = keyof typeof WS_AUTH_CLOSE;

/** The close codes above: clients pass `shouldRetry: (e) => !AUTH_CLOSE_CODES.has(e.code)`. */
export const AUTH_CLOSE_CODES: ReadonlySet<number> = new Set(Object.values(WS_AUTH_CLOSE).map((c) => c.code));
