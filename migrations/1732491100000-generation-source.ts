import type { MigrationInterface, QueryRunner } from "typeorm";

/** Which API a generation came through (GRAPHQL, OPENAI, ANTHROPIC) and the request id that created it (issue 16). */
export class GenerationSource1732491100000 implements MigrationInterface {
  name = "GenerationSource1732491100000";

  async up(q: QueryRunner): Promise<void> {
    // Rows from before came through GraphQL; their request ids were never stored (null).
    await q.query(`ALTER TABLE generations ADD COLUMN IF NOT EXISTS source text NOT NULL DEFAULT 'GRAPHQL'`);
    await q.query(`ALTER TABLE generations ADD COLUMN IF NOT EXISTS request_id text`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE generations DROP COLUMN IF EXISTS request_id`);
    await q.query(`ALTER TABLE generations DROP COLUMN IF EXISTS source`);
  }
}
