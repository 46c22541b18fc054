/** The `users` table's identity columns (email, role, tier): created here, read here. */
import { In, type DataSource } from "typeorm";
import type { Tier } from "../../config/config";
import type { ApiKeyEntity } from "../../db/entities/api-key.entity";
import { UserEntity, type Role } from "../../db/entities/user.entity";
import type { ApiKeyStore } from "./api-key.store";

export interface UserPageQuery {
  after?: { createdAt: Date; id: string };
  role?: Role;
  tier?: Tier;
  /** Case-insensitive substring of the email. */
  emailContains?: string;
  disabled?: boolean;
}

export class UserStore {
  constructor(
    private readonly ds: DataSource,
    private readonly keys: ApiKeyStore,
  ) {}

  /** The user and its first key in one transaction; null (nothing written) when the email is taken, case aside. */
  createWithKey(user: { id: string; email: string; role: Role; tier: Tier }, key: ApiKeyEntity): Promise<UserEntity | null> {
    return this.ds.transaction(async (m) => {
      const existing = await m.query(`SELECT 1 FROM users WHERE lower(email) = lower($1)`, [user.email]);
      if (existing.length) return null;
      await m.insert(UserEntity, m.create(UserEntity, user));
      await this.keys.insert(key, m);
      return m.findOneByOrFail(UserEntity, { id: user.id });
    });
  }

  byEmail(email: string): Promise<UserEntity | null> {
    return this.ds.getRepository(UserEntity).createQueryBuilder("u").where("lower(u.email) = lower(:email)", { email }).getOne();
  }

  async count(): Promise<number> {
    const [{ n }] = await this.ds.query(`SELECT count(*)::int AS n FROM users`);
    return n;
  }

  byId(id: string): Promise<UserEntity | null> {
    return this.ds.getRepository(UserEntity).findOneBy({ id });
  }

  /** One page of users in (created_at, id) order after `after`, with `size` rows at most. */
  page(q: UserPageQuery, size: number): Promise<UserEntity[]> {
    // In milliseconds, as the cursor carries it (a JS Date): a row is never served twice or skipped.
    const at = "date_trunc('milliseconds', u.created_at)";
    const qb = this.ds.getRepository(UserEntity).createQueryBuilder("u").orderBy(at, "ASC").addOrderBy("u.id", "ASC").limit(size);
    if (q.after) qb.andWhere(`(${at}, u.id) > (:at, :id)`, { at: q.after.createdAt, id: q.after.id });
    if (q.role) qb.andWhere("u.role = :role", { role: q.role });
    if (q.tier) qb.andWhere("u.tier = :tier", { tier: q.tier });
    if (q.emailContains) qb.andWhere("strpos(lower(u.email), lower(:email)) > 0", { email: q.emailContains });
    if (q.disabled !== undefined) qb.andWhere(q.disabled ? "u.disabled_at IS NOT NULL" : "u.disabled_at IS NULL");
    return qb.getMany();
  }

  /**
   * Sets the tier and/or the disabled state (undefined: unchanged; disabling keeps the first
   * disabling time) and returns the user, or null when there is no such user.
   */
  async update(id: string, change: { tier?: Tier; disabled?: boolean }): Promise<UserEntity | null> {
    const [rows] = await this.ds.query(
      `UPDATE users SET tier = COALESCE($2, tier),
              disabled_at = CASE WHEN $3::boolean IS NULL THEN disabled_at WHEN $3::boolean THEN COALESCE(disabled_at, now()) ELSE NULL END
        WHERE id = $1 RETURNING id`,
      [id, change.tier ?? null, change.disabled ?? null],
    );
    return rows.length ? this.byId(id) : null;
  }

  // --- reads for the api loaders

  /** These users (unknown ids are left out): the `user` DataLoader's batch. */
  byIds(ids: readonly string[]): Promise<UserEntity[]> {
    return this.ds.getRepository(UserEntity).findBy({ id: In([...ids]) });
  }
}
