import type { MigrationInterface, QueryRunner } from "typeorm";

/** The fingerprint of the request an idempotency key was first used with (a replay with another request is a CONFLICT). */
export class IdempotencyRequestHash1732490900000 implements MigrationInterface {
  name = "IdempotencyRequestHash1732490900000";

  async up(q: QueryRunner): Promise<void> {
    // Nullable: rows from before have none, and their keys keep returning the first generation.
    await q.query(`ALTER TABLE generations ADD COLUMN IF NOT EXISTS request_hash text`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE generations DROP COLUMN IF EXISTS request_hash`);
  }
}
