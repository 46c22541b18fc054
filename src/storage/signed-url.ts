import { createHmac, timingSafeEqual } from "node:crypto";

/** URL prefix under which blobs are served. */
const FILES_PREFIX = "/files/";

/** Result of checking a signed file URL. */
export type FileSignatureCheck = "ok" | "expired" | "invalid";

function signature(key: string, exp: string, secret: string): Buffer {
  return createHmac("sha256", secret).update(`${key}\n${exp}`).digest();
}

/**
 * Builds a signed, expiring path for a blob key:
 * `/files/<url-encoded key segments>?exp=<unix seconds>&sig=<base64url HMAC-SHA256 of "key\nexp">`.
 * Slashes in the key are kept as path separators; every segment is percent-encoded.
 * @param expiresAtUnixSeconds integer unix time (seconds) after which the URL is rejected.
 */
export function signFilePath(key: string, secret: string, expiresAtUnixSeconds: number): string {
  const exp = String(Math.floor(expiresAtUnixSeconds));
  const sig = signature(key, exp, secret).toString("base64url");
  const path = key.split("/").map(encodeURIComponent).join("/");
  return `${FILES_PREFIX}${path}?exp=${exp}&sig=${sig}`;
}

/** Clock difference tolerated between the node that signed a URL and the one checking it. */
export const MAX_CLOCK_SKEW_SECONDS = 60;

/**
 * Checks the `exp` and `sig` query parameters of a signed file URL for `key`.
 * Returns "invalid" for missing or malformed parameters, a wrong signature, or an expiry
 * further away than `maxTtlSeconds` (FILE_URL_TTL_SECONDS, plus {@link MAX_CLOCK_SKEW_SECONDS}):
 * no URL we issue lives longer, so one that claims to was not issued under this policy.
 * "expired" for a valid signature whose expiry is at or before `nowUnixSeconds`, else "ok".
 * The signature is compared in constant time.
 */
export function verifyFileSignature(
  key: string,
  exp: string | undefined,
  sig: string | undefined,
  secret: string,
  nowUnixSeconds: number,
  maxTtlSeconds: number,
): FileSignatureCheck {
  if (!exp || !sig || !/^\d{1,15}$/.test(exp) || !/^[A-Za-z0-9_-]+$/.test(sig)) return "invalid";
  if (Number(exp) > nowUnixSeconds + maxTtlSeconds + MAX_CLOCK_SKEW_SECONDS) return "invalid";
  const expected = signature(key, exp, secret);
  const given = Buffer.from(sig, "base64url");
  // timingSafeEqual throws on length mismatch; the length of an HMAC is public anyway.
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return "invalid";
  // Reject non-canonical base64url (trailing bits) so one signature has exactly one spelling.
  if (given.toString("base64url") !== sig) return "invalid";
  return Number(exp) <= nowUnixSeconds ? "expired" : "ok";
}

/**
 * Extracts the blob key from a request pathname such as `/files/gen_1/0.png`.
 * Returns null when the path is not under `/files/`, is badly encoded, or has an empty,
 * `.` or `..` segment.
 */
export function parseFilesPath(pathname: string): string | null {
  if (!pathname.startsWith(FILES_PREFIX)) return null;
  const segments: string[] = [];
  for (const raw of pathname.slice(FILES_PREFIX.length).split("/")) {
    let segment: string;
    try {
      segment = decodeURIComponent(raw);
    } catch {
      return null;
    }
    if (segment === "" || segment === "." || segment === ".." || segment.includes("/")) return null;
    segments.push(segment);
  }
  return segments.join("/");
}
