import type { MigrationInterface, QueryRunner } from "typeorm";

/** Budgets: per-period quota rows, the spend ledger, and each generation's reservation. */
export class Quotas1732380000000 implements MigrationInterface {
  name = "Quotas1732380000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE users ADD COLUMN quota_limit_micros bigint CHECK (quota_limit_micros >= 0)`);
    await q.query(`ALTER TABLE generations ADD COLUMN reserved_micros bigint NOT NULL DEFAULT 0`);
    await q.query(`ALTER TABLE generations ADD COLUMN quota_period_start timestamptz`);
    await q.query(`ALTER TABLE generations ADD COLUMN max_cost_micros bigint`);
    await q.query(`
      CREATE TABLE quota_periods (
        user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        period_start timestamptz NOT NULL,
        period_end timestamptz NOT NULL,
        limit_micros bigint NOT NULL CHECK (limit_micros >= 0),
        spent_micros bigint NOT NULL DEFAULT 0 CHECK (spent_micros >= 0),
        reserved_micros bigint NOT NULL DEFAULT 0 CHECK (reserved_micros >= 0),
        requests integer NOT NULL DEFAULT 0,
        warned_at timestamptz,
        PRIMARY KEY (user_id, period_start)
      )`);
    await q.query(`
      CREATE TABLE spend_ledger (
        id bigserial PRIMARY KEY,
        user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        period_start timestamptz NOT NULL,
        generation_id uuid NOT NULL REFERENCES generations(id) ON DELETE CASCADE,
        attempt_no integer NOT NULL,
        kind text NOT NULL CHECK (kind IN ('reserve','extend','charge','release')),
        amount_micros bigint NOT NULL CHECK (amount_micros >= 0),
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    // One entry per generation, attempt and kind: settlement can be retried, never doubled.
    await q.query(`CREATE UNIQUE INDEX spend_ledger_once_uq ON spend_ledger (generation_id, attempt_no, kind)`);
    await q.query(`CREATE INDEX spend_ledger_period_idx ON spend_ledger (user_id, period_start)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS spend_ledger`);
    await q.query(`DROP TABLE IF EXISTS quota_periods`);
    await q.query(`ALTER TABLE generations DROP COLUMN max_cost_micros, DROP COLUMN quota_period_start, DROP COLUMN reserved_micros`);
    await q.query(`ALTER TABLE users DROP COLUMN quota_limit_micros`);
  }
}
