import type { MigrationInterface, QueryRunner } from "typeorm";

/** Whether a generation was created as an OpenAI background response (POST /v1/responses with background: true; issue 16). */
export class GenerationBackground1796181430208 implements MigrationInterface {
  name = "GenerationBackground1796181430208";

  async up(q: QueryRunner): Promise<void> {
    // Rows from before: background responses were not recorded (false; the /v1 door answered null for them).
    await q.query(`ALTER TABLE generations ADD COLUMN IF NOT EXISTS background boolean NOT NULL DEFAULT false`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE generations DROP COLUMN IF EXISTS background`);
  }
}
