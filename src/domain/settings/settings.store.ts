/** The `settings` table: process-wide values every replica must agree on. */
import { randomBytes } from "node:crypto";
import type { DataSource } from "typeorm";

export class SettingsStore {
  constructor(private readonly ds: DataSource) {}

  /**
   * The HMAC secret for /files URLs: FILES_SIGNING_SECRET when configured, else one generated
   * once and kept in the database, so every replica signs and checks the same URLs.
   */
  async filesSigningSecret(configured?: string): Promise<string> {
    if (configured) return configured;
    await this.ds.query(`INSERT INTO settings (key, value) VALUES ('files_signing_secret', $1) ON CONFLICT (key) DO NOTHING`, [randomBytes(32).toString("hex")]);
    const rows = await this.ds.query(`SELECT value FROM settings WHERE key = 'files_signing_secret'`);
    return rows[0].value;
  }
}
