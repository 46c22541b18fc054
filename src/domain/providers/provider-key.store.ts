/**
 * The `provider_keys` table: API keys added through the API, stored AES-256-GCM encrypted
 * (the ciphertext is made and read by KeyPool; this file only moves rows). The only code
 * issuing SQL on provider_keys.
 */
import type { DataSource } from "typeorm";

export interface StoredKeyRow {
  provider: string;
  label: string;
  ciphertext: string;
}

export interface DisabledKeyRow {
  label: string;
  last4: string;
  disabled_reason: string | null;
}

export class ProviderKeyStore {
  constructor(private readonly ds: DataSource) {}

  /** Every enabled stored key, oldest first. */
  enabled(): Promise<StoredKeyRow[]> {
    return this.ds.query(`SELECT provider, label, ciphertext FROM provider_keys WHERE disabled_at IS NULL ORDER BY created_at`);
  }

  /** Providers with a stored key, disabled ones included. */
  async providers(): Promise<string[]> {
    const rows: { provider: string }[] = await this.ds.query(`SELECT DISTINCT provider FROM provider_keys`);
    return rows.map((r) => r.provider);
  }

  /** A provider's stored keys disabled in Postgres. */
  disabled(provider: string): Promise<DisabledKeyRow[]> {
    return this.ds.query(`SELECT label, last4, disabled_reason FROM provider_keys WHERE provider = $1 AND disabled_at IS NOT NULL`, [provider]);
  }

  /** False when the provider already has a key with that label. */
  async insert(provider: string, label: string, ciphertext: string, last4: string): Promise<boolean> {
    const res = await this.ds.query(
      `INSERT INTO provider_keys (provider, label, ciphertext, last4) VALUES ($1, $2, $3, $4) ON CONFLICT (provider, label) DO NOTHING RETURNING id`,
      [provider, label, ciphertext, last4],
    );
    return res.length > 0;
  }

  async disable(provider: string, label: string, reason: string): Promise<void> {
    await this.ds.query(`UPDATE provider_keys SET disabled_at = now(), disabled_reason = $3 WHERE provider = $1 AND label = $2`, [provider, label, reason]);
  }

  /** False when no stored key has that label. */
  async enable(provider: string, label: string): Promise<boolean> {
    // UPDATE … RETURNING comes back from TypeORM as [rows, count].
    const [stored] = await this.ds.query(`UPDATE provider_keys SET disabled_at = NULL, disabled_reason = NULL WHERE provider = $1 AND label = $2 RETURNING id`, [provider, label]);
    return stored.length > 0;
  }

  /** False when no stored key has that label. */
  async remove(provider: string, label: string): Promise<boolean> {
    const [deleted] = await this.ds.query(`DELETE FROM provider_keys WHERE provider = $1 AND label = $2 RETURNING id`, [provider, label]);
    return deleted.length > 0;
  }
}
