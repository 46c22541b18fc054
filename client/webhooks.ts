/**
 * Verifying Switchboard webhooks in a receiver.
 *
 * Every delivery is a POST with a JSON body and
 *
 *   Switchboard-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>
 *
 * where the secret is the endpoint's (createWebhookEndpoint) or, for a generation's
 * callbackUrl, your callback secret (rotateCallbackSecret). Verify the RAW body bytes as
 * received (not re-serialised JSON), and reject stale timestamps: that is what makes a
 * captured delivery useless to replay later.
 *
 * Self-contained (node:crypto only), so it can be copied into any Node receiver.
 */
import { createHmac, timingSafeEqual } from "node:crypto";

export const SIGNATURE_HEADER = "switchboard-signature";

export type WebhookVerification =
  | { ok: true; timestamp: number }
  | { ok: false; reason: "missing_signature" | "malformed_signature" | "stale_timestamp" | "signature_mismatch" };

export interface VerifyWebhookOptions {
  /** The raw request body, exactly as received. */
  body: string | Uint8Array;
  /** The Switchboard-Signature header value (or give `headers`). */
  signature?: string | string[] | null;
  /** The request's headers (Node's IncomingHttpHeaders, a fetch Headers, or a plain object); used when `signature` is not given. */
  headers?: Headers | Record<string, string | string[] | undefined>;
  /** The endpoint's signing secret (whsec_…), or your callback secret for callbackUrl deliveries. */
  secret: string;
  /** Largest accepted distance between the signed timestamp and now, in seconds. Default 300. */
  toleranceSeconds?: number;
  /** The current time (a Date or milliseconds since the epoch); default now. */
  now?: Date | number;
}

function headerValue(o: VerifyWebhookOptions): string | undefined {
  let v: string | string[] | null | undefined = o.signature;
  if (v == null && o.headers) {
    const h = o.headers;
    if (typeof (h as Headers).get === "function") v = (h as Headers).get(SIGNATURE_HEADER);
    else v = Object.entries(h as Record<string, string | string[] | undefined>).find(([k]) => k.toLowerCase() === SIGNATURE_HEADER)?.[1];
  }
  return Array.isArray(v) ? v.join(",") : (v ?? undefined);
}

/**
 * Checks a delivery's signature in constant time and that its timestamp is within
 * `toleranceSeconds` of now. Returns `{ ok: true, timestamp }` or `{ ok: false, reason }`.
 */
export function verifyWebhook(o: VerifyWebhookOptions): WebhookVerification {
  const header = headerValue(o);
  if (!header) return { ok: false, reason: "missing_signature" };
  let timestamp: number | undefined;
  const candidates: Buffer[] = [];
  for (const part of header.split(",")) {
    const eq = part.indexOf("=");
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === "t" && /^\d{1,12}$/.test(value)) timestamp = Number(value);
    else if (key === "v1" && /^[0-9a-f]{64}$/i.test(value)) candidates.push(Buffer.from(value, "hex"));
  }
  if (timestamp === undefined || !candidates.length) return { ok: false, reason: "malformed_signature" };
  const nowMs = o.now === undefined ? Date.now() : typeof o.now === "number" ? o.now : o.now.getTime();
  if (Math.abs(nowMs / 1000 - timestamp) > (o.toleranceSeconds ?? 300)) return { ok: false, reason: "stale_timestamp" };
  const body = typeof o.body === "string" ? Buffer.from(o.body, "utf8") : Buffer.from(o.body.buffer, o.body.byteOffset, o.body.byteLength);
  const expected = createHmac("sha256", o.secret).update(`${timestamp}.`).update(body).digest();
  // Check every candidate (several v1 entries may be present) without stopping early.
  let match = false;
  for (const c of candidates) match = timingSafeEqual(c, expected) || match;
  return match ? { ok: true, timestamp } : { ok: false, reason: "signature_mismatch" };
}
