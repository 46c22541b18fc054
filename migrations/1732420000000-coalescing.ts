import type { MigrationInterface, QueryRunner } from "typeorm";

/** In-flight coalescing: identical requests join the first one's group and share its upstream work. */
export class Coalescing1732420000000 implements MigrationInterface {
  name = "Coalescing1732420000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE generations ADD COLUMN group_id uuid`);
    await q.query(`CREATE INDEX generations_group_idx ON generations (group_id) WHERE group_id IS NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE generations DROP COLUMN group_id`);
  }
}
