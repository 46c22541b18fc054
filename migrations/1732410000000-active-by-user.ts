import type { MigrationInterface, QueryRunner } from "typeorm";

/** Admission counts a user's QUEUED + RUNNING generations on every request. */
export class ActiveByUser1732410000000 implements MigrationInterface {
  name = "ActiveByUser1732410000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX generations_active_user_idx ON generations (user_id) WHERE status IN ('QUEUED','RUNNING')`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX IF EXISTS generations_active_user_idx`);
  }
}
