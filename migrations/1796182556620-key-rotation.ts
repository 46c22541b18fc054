import type { MigrationInterface, QueryRunner } from "typeorm";

/** The key a rotated key was replaced by (issue 17): a key is rotated once, even by concurrent calls. */
export class KeyRotation1796182556620 implements MigrationInterface {
  name = "KeyRotation1796182556620";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE api_keys ADD COLUMN IF NOT EXISTS replaced_by uuid`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE api_keys DROP COLUMN IF EXISTS replaced_by`);
  }
}
