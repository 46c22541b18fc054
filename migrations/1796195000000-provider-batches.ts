import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Provider batch APIs (issue 20): `priority: BATCH`, and the batches generations are collected
 * into (one COLLECTING batch per provider and model at a time), with their members.
 */
export class ProviderBatches1796195000000 implements MigrationInterface {
  name = "ProviderBatches1796195000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE generations DROP CONSTRAINT IF EXISTS generations_priority_check`);
    await q.query(`ALTER TABLE generations ADD CONSTRAINT generations_priority_check CHECK (priority IN ('HIGH','NORMAL','LOW','BATCH'))`);
    await q.query(`
      CREATE TABLE IF NOT EXISTS provider_batches (
        id uuid PRIMARY KEY,
        provider text NOT NULL,
        provider_model text NOT NULL,
        state text NOT NULL CHECK (state IN ('COLLECTING','SUBMITTING','SUBMITTED','ENDED','FAILED','EMPTY')),
        size integer NOT NULL DEFAULT 0,
        submit_after timestamptz NOT NULL,
        provider_batch_id text,
        provider_state jsonb,
        key_label text,
        error text,
        submitted_at timestamptz,
        ended_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE UNIQUE INDEX IF NOT EXISTS provider_batches_collecting ON provider_batches (provider, provider_model) WHERE state = 'COLLECTING'`);
    await q.query(`CREATE INDEX IF NOT EXISTS provider_batches_open ON provider_batches (updated_at) WHERE state IN ('COLLECTING','SUBMITTING','SUBMITTED')`);
    await q.query(`
      CREATE TABLE IF NOT EXISTS provider_batch_members (
        generation_id uuid PRIMARY KEY REFERENCES generations(id) ON DELETE CASCADE,
        batch_id uuid NOT NULL REFERENCES provider_batches(id) ON DELETE CASCADE,
        run_attempt integer,
        attempt_no integer,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX IF NOT EXISTS provider_batch_members_batch ON provider_batch_members (batch_id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS provider_batch_members`);
    await q.query(`DROP TABLE IF EXISTS provider_batches`);
    await q.query(`UPDATE generations SET priority = 'LOW' WHERE priority = 'BATCH'`);
    await q.query(`ALTER TABLE generations DROP CONSTRAINT IF EXISTS generations_priority_check`);
    await q.query(`ALTER TABLE generations ADD CONSTRAINT generations_priority_check CHECK (priority IN ('HIGH','NORMAL','LOW'))`);
  }
}
