/** The `api_keys` table: the only module that writes or reads it. */
import type { DataSource, EntityManager } from "typeorm";
import { ApiKeyEntity } from "../../db/entities/api-key.entity";

/** A key found by its prefix, with its user's columns (one indexed query). */
export interface KeyWithUserRow {
  key_id: string;
  key_hash: string;
  revoked_at: Date | null;
  id: string;
  email: string;
  role: string;
  tier: string;
  created_at: Date;
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
      `SELECT k.id AS key_id, k.key_hash, k.revoked_at, u.id, u.email, u.role, u.tier, u.created_at
         FROM api_keys k JOIN users u ON u.id = k.user_id
        WHERE k.prefix = $1`,
      [prefix],
    );
    return rows[0] ?? null;
  }

  async byPrefix(prefix: string): Promise<{ key_hash: string; revoked_at: Date | null } | null> {
    const rows: { key_hash: string; revoked_at: Date | null }[] = await this.ds.query(`SELECT key_hash, revoked_at FROM api_keys WHERE prefix = $1`, [prefix]);
    return rows[0] ?? null;
  }
}
