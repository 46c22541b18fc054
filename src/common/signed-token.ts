/**
 * Short-lived bearer tokens for links (e.g. a Bull Board URL a browser can open without an
 * Authorization header): `<base64url payload>.<base64url HMAC-SHA256>`, the HMAC keyed by a
 * server secret and bound to a purpose, so a token minted for one use is refused by another.
 */
import { createHmac, timingSafeEqual } from "node:crypto";

/** Bull Board links: minted by the bullBoardLink mutation, checked by src/http/bull-board.route.ts. */
export const BULL_BOARD_TOKEN_PURPOSE = "bull-board";

export interface TokenClaims {
  /** Subject: the user id it was minted for. */
  sub: string;
  /** Expiry, ms since the epoch. */
  exp: number;
}

const mac = (secret: string, purpose: string, body: string) => createHmac("sha256", secret).update(`${purpose}\n${body}`).digest("base64url");

export function signToken(secret: string, purpose: string, claims: TokenClaims): string {
  const body = Buffer.from(JSON.stringify({ sub: claims.sub, exp: claims.exp })).toString("base64url");
  return `${body}.${mac(secret, purpose, body)}`;
}

/** The claims of a genuine, unexpired token for this purpose; else null (never throws). */
export function verifyToken(secret: string, purpose: string, token: string, now = Date.now()): TokenClaims | null {
  if (token.length > 1000) return null;
  const dot = token.indexOf(".");
  if (dot <= 0) return null;
  const body = token.slice(0, dot);
  const sig = Buffer.from(token.slice(dot + 1));
  const want = Buffer.from(mac(secret, purpose, body));
  if (sig.length !== want.length || !timingSafeEqual(sig, want)) return null;
  try {
    const c = JSON.parse(Buffer.from(body, "base64url").toString("utf8")) as Partial<TokenClaims>;
    if (typeof c.sub !== "string" || typeof c.exp !== "number" || c.exp <= now) return null;
    return { sub: c.sub, exp: c.exp };
  } catch {
    return null;
  }
}
