/**
 * Signing secrets at rest. They must be readable to sign with, so they are stored
 * encrypted (AES-256-GCM, the provider-key scheme) when SWITCHBOARD_MASTER_KEY is set, and
 * as they are otherwise. Plain ones start with "whsec_"; encrypted ones with "v1.".
 */
import { KeyCrypto } from "../providers/key-crypto";

export class SecretBox {
  private readonly crypto?: KeyCrypto;

  constructor(masterKey?: string) {
    if (masterKey) this.crypto = new KeyCrypto(masterKey);
  }

  seal(secret: string): string {
    return this.crypto ? this.crypto.encrypt(secret) : secret;
  }

  open(stored: string): string {
    if (stored.startsWith("whsec_")) return stored;
    if (!this.crypto) throw new Error("this signing secret is encrypted: SWITCHBOARD_MASTER_KEY is needed to sign with it");
    return this.crypto.decrypt(stored);
  }
}

/** What any API may show of a secret. */
export const secretHint = (secret: string): string => secret.slice(-4);
