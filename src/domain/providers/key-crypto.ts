/**
 * Provider keys at rest: AES-256-GCM with a key derived (HKDF-SHA256) from
 * SWITCHBOARD_MASTER_KEY. Stored as "v1.<iv>.<tag>.<ciphertext>" (base64url); a wrong
 * master key or a tampered value fails to decrypt instead of yielding garbage.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";

export class KeyCrypto {
  private readonly key: Buffer;

  constructor(masterKey: string) {
    this.key = Buffer.from(hkdfSync("sha256", masterKey, "switchboard", "provider-keys/v1", 32));
  }

  encrypt(plain: string): string {
    const iv = randomBytes(12);
    const c = createCipheriv("aes-256-gcm", this.key, iv);
    const body = Buffer.concat([c.update(plain, "utf8"), c.final()]);
    return ["v1", iv.toString("base64url"), c.getAuthTag().toString("base64url"), body.toString("base64url")].join(".");
  }

  decrypt(stored: string): string {
    const [v, iv, tag, body] = stored.split(".");
    if (v !== "v1" || !iv || !tag || body === undefined) throw new Error("not an encrypted provider key");
    const d = createDecipheriv("aes-256-gcm", this.key, Buffer.from(iv, "base64url"));
    d.setAuthTag(Buffer.from(tag, "base64url"));
    return Buffer.concat([d.update(Buffer.from(body, "base64url")), d.final()]).toString("utf8");
  }
}

/** What any API or log may show of a key. */
export const last4 = (key: string): string => key.slice(-4);
