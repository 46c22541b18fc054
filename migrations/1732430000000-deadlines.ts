import type { MigrationInterface, QueryRunner } from "typeorm";

/** A whole-request deadline (createGeneration's deadlineSeconds). */
export class Deadlines1732430000000 implements MigrationInterface {
  name = "Deadlines1732430000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE generations ADD COLUMN deadline_at timestamptz`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE generations DROP COLUMN deadline_at`);
  }
}
