import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Per-key budgets (issue 17): each API key with a budget has a row per quota period (its limit as
 * last admitted, spent and reserved), moved in the same statements as its user's quota row. A
 * ledger entry made for a generation whose key had a budget at admission names that key
 * (spend_ledger.api_key_id), so settlement knows whose row to move and the key's balances can be
 * rebuilt from the ledger like the user's.
 */
export class KeySpend1732491300000 implements MigrationInterface {
  name = "KeySpend1732491300000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE api_key_periods (
        api_key_id uuid NOT NULL REFERENCES api_keys(id) ON DELETE CASCADE,
        period_start timestamptz NOT NULL,
        limit_micros bigint NOT NULL CHECK (limit_micros >= 0),
        spent_micros bigint NOT NULL DEFAULT 0 CHECK (spent_micros >= 0),
        reserved_micros bigint NOT NULL DEFAULT 0 CHECK (reserved_micros >= 0),
        requests integer NOT NULL DEFAULT 0,
        PRIMARY KEY (api_key_id, period_start)
      )`);
    await q.query(`ALTER TABLE spend_ledger ADD COLUMN api_key_id uuid`);
    await q.query(`CREATE INDEX spend_ledger_key_period_idx ON spend_ledger (api_key_id, period_start) WHERE api_key_id IS NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX IF EXISTS spend_ledger_key_period_idx`);
    await q.query(`ALTER TABLE spend_ledger DROP COLUMN IF EXISTS api_key_id`);
    await q.query(`DROP TABLE IF EXISTS api_key_periods`);
  }
}
