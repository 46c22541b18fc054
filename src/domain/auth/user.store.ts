/** The `users` table's identity columns (email, role, tier): created here, read here. */
import { In, type DataSource } from "typeorm";
import type { Tier } from "../../config/config";
import type { ApiKeyEntity } from "../../db/entities/api-key.entity";
import { UserEntity, type Role } from "../../db/entities/user.entity";
import type { ApiKeyStore } from "./api-key.store";

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

  // --- reads for the api loaders

  /** These users (unknown ids are left out): the `user` DataLoader's batch. */
  byIds(ids: readonly string[]): Promise<UserEntity[]> {
    return this.ds.getRepository(UserEntity).findBy({ id: In([...ids]) });
  }
}
