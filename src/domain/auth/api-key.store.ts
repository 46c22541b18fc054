/** The `api_keys` table: the only module that writes or reads it. */
import type { DataSource, EntityManager } from "typeorm";
import { ApiKeyEntity } from "../../db/entities/api-key.entity";

/** A key found by its prefix, with its user's columns (one indexed query). */
export interface KeyWithUserRow {
  key_id: string;
  key_hash: string;
  revoked_at: Date | null;
  expires_at: Date | null;
  budget_micros: string | null;
  allowed_models: string[] | null;
  rate_limit_per_minute: number | null;
  id: string;
  email: string;
  role: string;
  tier: string;
  created_at: Date;
  disabled_at: Date | null;
}

export class ApiKeyStore {
  constructor(private readonly ds: DataSource) {}

  /** @param m the transaction to insert in (UserStore.createWithKey), else a statement of its own. */
  async insert(entity: ApiKeyEntity, m: EntityManager = this.ds.manager): Promise<void> {
    await m.insert(ApiKeyEntity, entity);
  }

  byUser(userId: string): Promise<ApiKeyEntity[]> {
    return this.ds.getRepository(ApiKeyEntity).find({ where: { userId }, order: { createdAt: "ASC" } });
  }

  byId(id: string): Promise<ApiKeyEntity | null> {
    return this.ds.getRepository(ApiKeyEntity).findOneBy({ id });
  }

  /**
   * Revokes the key (a revoked one keeps its first revocation time) and returns it;
   * null when there is no such key.
   */
  async revoke(id: string): Promise<ApiKeyEntity | null> {
    const rows: unknown[] = await this.ds.query(
      `UPDATE api_keys SET revoked_at = COALESCE(revoked_at, now()) WHERE id = $1 RETURNING id, key_hash AS "keyHash"`,
      [id],
    ).then((r) => r[0]);
    if (!rows.length) return null;
    return this.ds.getRepository(ApiKeyEntity).findOneByOrFail({ id });
  }

  /** The key with this prefix (unique) and its user. */
  async withUserByPrefix(prefix: string): Promise<KeyWithUserRow | null> {
    const rows: KeyWithUserRow[] = await this.ds.query(
      `SELECT k.id AS key_id, k.key_hash, k.revoked_at, k.expires_at, k.budget_micros, k.allowed_models, k.rate_limit_per_minute,
              u.id, u.email, u.role, u.tier, u.created_at, u.disabled_at
         FROM api_keys k JOIN users u ON u.id = k.user_id
        WHERE k.prefix = $1`,
      [prefix],
    );
    return rows[0] ?? null;
  }

  /**
   * Rotates `oldId` to `fresh` in one transaction: the old key is marked replaced and revoked now
   * (`until` null) or set to expire at `until`, and the new one inserted. Only a live key that was
   * never rotated qualifies (concurrent rotations: one wins); null, nothing written, otherwise.
   */
  rotate(oldId: string, fresh: ApiKeyEntity, until: Date | null): Promise<ApiKeyEntity | null> {
    return this.ds.transaction(async (m) => {
      const [rows] = await m.query(
        `UPDATE api_keys SET replaced_by = $2,
                revoked_at = CASE WHEN $3::timestamptz IS NULL THEN now() ELSE revoked_at END,
                expires_at = CASE WHEN $3::timestamptz IS NULL THEN expires_at ELSE LEAST(COALESCE(expires_at, $3::timestamptz), $3::timestamptz) END
          WHERE id = $1 AND revoked_at IS NULL AND replaced_by IS NULL AND (expires_at IS NULL OR expires_at > now())
          RETURNING id`,
        [oldId, fresh.id, until],
      );
      if (!rows.length) return null;
      await m.insert(ApiKeyEntity, fresh);
      return m.findOneByOrFail(ApiKeyEntity, { id: oldId });
    });
  }

  /** The user's keys that are not revoked: what a change to the user must purge and close. */
  liveOfUser(userId: string): Promise<{ id: string; key_hash: string; expires_at: Date | null }[]> {
    return this.ds.query(`SELECT id, key_hash, expires_at FROM api_keys WHERE user_id = $1 AND revoked_at IS NULL`, [userId]);
  }
}
