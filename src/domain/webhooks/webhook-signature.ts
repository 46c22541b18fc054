/**
 * How deliveries are signed (receivers check with `verifyWebhook` from the client package):
 *
 *   Switchboard-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>
 *
 * The key is the secret exactly as shown once at creation (`whsec_…`, as UTF-8 bytes). The
 * timestamp is signed with the body, so a receiver that rejects stale timestamps also
 * rejects replays.
 */
import { createHmac, randomBytes } from "node:crypto";

export const SIGNATURE_HEADER = "switchboard-signature";

/** The hex HMAC-SHA256 of `${timestamp}.${body}`. */
export function signPayload(secret: string, timestampSeconds: number, body: string): string {
  return createHmac("sha256", secret).update(`${timestampSeconds}.`).update(body).digest("hex");
}

/** The Switchboard-Signature header value for `body` signed now (or at `timestampSeconds`). */
export function signatureHeader(secret: string, body: string, timestampSeconds = Math.floor(Date.now() / 1000)): string {
  return `t=${timestampSeconds},v1=${signPayload(secret, timestampSeconds, body)}`;
}

/** A fresh signing secret: "whsec_" + 32 random bytes, base64url. */
export function newSigningSecret(): string {
  return `whsec_${randomBytes(32).toString("base64url")}`;
}
