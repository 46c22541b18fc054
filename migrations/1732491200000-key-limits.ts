import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Per-key limits on top of the user's (issue 17): expiry, a budget per quota period (micro-USD),
 * the models a key may use and a rate limit; and a user can be disabled (all its keys refused).
 */
export class KeyLimits1732491200000 implements MigrationInterface {
  name = "KeyLimits1732491200000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE api_keys ADD COLUMN IF NOT EXISTS expires_at timestamptz`);
    await q.query(`ALTER TABLE api_keys ADD COLUMN IF NOT EXISTS budget_micros bigint`);
    await q.query(`ALTER TABLE api_keys ADD COLUMN IF NOT EXISTS allowed_models text[]`);
    await q.query(`ALTER TABLE api_keys ADD COLUMN IF NOT EXISTS rate_limit_per_minute int`);
    await q.query(`ALTER TABLE users ADD COLUMN IF NOT EXISTS disabled_at timestamptz`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE users DROP COLUMN IF EXISTS disabled_at`);
    await q.query(`ALTER TABLE api_keys DROP COLUMN IF EXISTS rate_limit_per_minute`);
    await q.query(`ALTER TABLE api_keys DROP COLUMN IF EXISTS allowed_models`);
    await q.query(`ALTER TABLE api_keys DROP COLUMN IF EXISTS budget_micros`);
    await q.query(`ALTER TABLE api_keys DROP COLUMN IF EXISTS expires_at`);
  }
}
