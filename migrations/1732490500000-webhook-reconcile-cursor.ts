import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Webhook reconciliation walks terminal generations (and pending deliveries) by a cursor
 * instead of re-reading the oldest 500 every sweep: the cursors live here, one row per walk,
 * and terminal generations get an index in the order walked.
 */
export class WebhookReconcileCursor1732490500000 implements MigrationInterface {
  name = "WebhookReconcileCursor1732490500000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE webhook_reconcile_cursors (
      name text PRIMARY KEY,
      position_at timestamptz NOT NULL,
      position_id uuid NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query(`CREATE INDEX IF NOT EXISTS generations_completed_idx ON generations (completed_at, id) WHERE completed_at IS NOT NULL`);
    // Replaces webhook_deliveries_pending_idx (updated_at): the walk orders by (updated_at, id).
    await q.query(`CREATE INDEX IF NOT EXISTS webhook_deliveries_pending_walk_idx ON webhook_deliveries (updated_at, id) WHERE status = 'PENDING'`);
    await q.query(`DROP INDEX IF EXISTS webhook_deliveries_pending_idx`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX IF NOT EXISTS webhook_deliveries_pending_idx ON webhook_deliveries (updated_at) WHERE status = 'PENDING'`);
    await q.query(`DROP INDEX IF EXISTS webhook_deliveries_pending_walk_idx`);
    await q.query(`DROP INDEX IF EXISTS generations_completed_idx`);
    await q.query(`DROP TABLE webhook_reconcile_cursors`);
  }
}
