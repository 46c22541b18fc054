import type { MigrationInterface, QueryRunner } from "typeorm";

/** Content safety (issue 20): a generation's moderation findings and what a flagged output does (onFlagged). */
export class GenerationModeration1796194794740 implements MigrationInterface {
  name = "GenerationModeration1796194794740";

  async up(q: QueryRunner): Promise<void> {
    // Rows from before were never moderated (null) and fail on a flag like any new request (FAIL).
    await q.query(`ALTER TABLE generations ADD COLUMN IF NOT EXISTS moderation jsonb`);
    await q.query(`ALTER TABLE generations ADD COLUMN IF NOT EXISTS on_flagged text NOT NULL DEFAULT 'FAIL'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE generations DROP COLUMN IF EXISTS on_flagged`);
    await q.query(`ALTER TABLE generations DROP COLUMN IF EXISTS moderation`);
  }
}
