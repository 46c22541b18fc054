/** Replicate's completion webhooks: is this request really from Replicate, and recent? */
import { validateWebhook } from "replicate";

/** Webhooks older (or further in the future) than this are refused: replay protection. */
export const WEBHOOK_TOLERANCE_SECONDS = 5 * 60;

type HeaderBag = Headers | Record<string, string | string[] | undefined>;

function headerOf(h: HeaderBag, name: string): string | undefined {
  if (typeof (h as Headers).get === "function") return (h as Headers).get(name) ?? undefined;
  const bag = h as Record<string, string | string[] | undefined>;
  const key = Object.keys(bag).find((k) => k.toLowerCase() === name);
  const v = key === undefined ? undefined : bag[key];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * Checks a Replicate webhook (standard-webhooks scheme): `webhook-signature` must hold an
 * HMAC-SHA256 of `${webhook-id}.${webhook-timestamp}.${rawBody}` under the signing secret
 * ("whsec_…", from GET /v1/webhooks/default/secret), checked with the SDK's
 * `validateWebhook`; and `webhook-timestamp` (unix seconds) must be within 5 minutes of
 * `now`, which the SDK does not check (replays). `rawBody` must be the bytes as received,
 * not re-serialised JSON. Async because the SDK's check uses WebCrypto. Never throws: a
 * missing header, a bad secret or a wrong signature is simply `false`.
 */
export async function verifyReplicateWebhook(
  headers: HeaderBag, rawBody: string | Buffer, secret: string, now: number = Date.now(),
): Promise<boolean> {
  const id = headerOf(headers, "webhook-id");
  const timestamp = headerOf(headers, "webhook-timestamp");
  const signature = headerOf(headers, "webhook-signature");
  const body = typeof rawBody === "string" ? rawBody : rawBody.toString("utf8");
  if (!id || !timestamp || !signature || !secret || !body) return false;
  const ts = Number(timestamp);
  if (!/^\d+$/.test(timestamp) || Math.abs(now / 1000 - ts) > WEBHOOK_TOLERANCE_SECONDS) return false;
  try {
    return await validateWebhook({ id, timestamp, signature, body, secret });
  } catch {
    return false;
  }
}
