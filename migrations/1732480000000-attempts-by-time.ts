import type { MigrationInterface, QueryRunner } from "typeorm";

/** Anomaly detection reads the last hour of upstream attempts every minute: an index by time keeps that a range scan. */
export class AttemptsByTime1732480000000 implements MigrationInterface {
  name = "AttemptsByTime1732480000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX IF NOT EXISTS generation_attempts_created_idx ON generation_attempts (created_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX IF EXISTS generation_attempts_created_idx`);
  }
}
