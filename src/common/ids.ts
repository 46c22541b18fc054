import { randomBytes, randomUUID, createHash } from "node:crypto";

export const newId = (): string => randomUUID();

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isUuid = (s: string): boolean => UUID_RE.test(s);

/** base62-ish random token (url-safe, no padding). */
export function randomToken(bytes: number): string {
  return randomBytes(bytes).toString("base64url").replace(/[-_]/g, "x");
}

export function sha256Hex(s: string): string {
  return createHash("sha256").update(s).digest("hex");
}
