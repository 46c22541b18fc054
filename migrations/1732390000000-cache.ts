import type { MigrationInterface, QueryRunner } from "typeorm";

/** Exact cache: each generation's cache policy, key, and (for hits) where the answer came from. */
export class Cache1732390000000 implements MigrationInterface {
  name = "Cache1732390000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE generations ADD COLUMN cache_policy text NOT NULL DEFAULT 'AUTO' CHECK (cache_policy IN ('AUTO','USE','BYPASS','REFRESH'))`);
    await q.query(`ALTER TABLE generations ADD COLUMN cache_key text`);
    await q.query(`ALTER TABLE generations ADD COLUMN cache_hit jsonb`);
    await q.query(`CREATE INDEX generations_cache_key_idx ON generations (cache_key) WHERE cache_key IS NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE generations DROP COLUMN cache_hit, DROP COLUMN cache_key, DROP COLUMN cache_policy`);
  }
}
