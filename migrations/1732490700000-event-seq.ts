import type { MigrationInterface, QueryRunner } from "typeorm";

/** Event seq floor kept in Postgres, so a counter Redis lost restarts above every seq already published. */
export class EventSeq1732490700000 implements MigrationInterface {
  name = "EventSeq1732490700000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE generations ADD COLUMN IF NOT EXISTS seq_reserved integer NOT NULL DEFAULT 1`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE generations DROP COLUMN IF EXISTS seq_reserved`);
  }
}
