import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Routing with fallback (the ordered candidates and which one runs), async upstream tasks
 * (video) re-checked by delayed jobs, provider keys stored encrypted, and alerts.
 */
export class RoutingAndKeys1732440000000 implements MigrationInterface {
  name = "RoutingAndKeys1732440000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE generations
      ADD COLUMN candidates jsonb,
      ADD COLUMN candidate_index integer NOT NULL DEFAULT 0,
      ADD COLUMN upstream_task jsonb`);
    // INVALID: the call answered but its output failed validation; SKIPPED: no call was made (no usable key).
    await q.query(`ALTER TABLE generation_attempts DROP CONSTRAINT generation_attempts_status_check`);
    await q.query(`ALTER TABLE generation_attempts ADD CONSTRAINT generation_attempts_status_check
      CHECK (status IN ('RUNNING','SUCCEEDED','FAILED','CANCELLED','INVALID','SKIPPED'))`);
    await q.query(`CREATE INDEX generations_upstream_task_idx ON generations ((upstream_task->>'taskId')) WHERE upstream_task IS NOT NULL`);
    await q.query(`CREATE TABLE provider_keys (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      provider text NOT NULL,
      label text NOT NULL,
      ciphertext text NOT NULL,
      last4 text NOT NULL,
      disabled_at timestamptz,
      disabled_reason text,
      created_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (provider, label)
    )`);
    await q.query(`CREATE TABLE alerts (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      kind text NOT NULL,
      severity text NOT NULL,
      provider text,
      message text NOT NULL,
      details jsonb NOT NULL DEFAULT '{}',
      created_at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query(`CREATE INDEX alerts_created_idx ON alerts (created_at DESC)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE alerts`);
    await q.query(`DROP TABLE provider_keys`);
    await q.query(`DROP INDEX generations_upstream_task_idx`);
    await q.query(`ALTER TABLE generation_attempts DROP CONSTRAINT generation_attempts_status_check`);
    await q.query(`ALTER TABLE generation_attempts ADD CONSTRAINT generation_attempts_status_check CHECK (status IN ('RUNNING','SUCCEEDED','FAILED','CANCELLED'))`);
    await q.query(`ALTER TABLE generations DROP COLUMN candidates, DROP COLUMN candidate_index, DROP COLUMN upstream_task`);
  }
}
