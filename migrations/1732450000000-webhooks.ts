import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Signed webhooks: per-user endpoints (subscribed event types, signing secret stored
 * encrypted when SWITCHBOARD_MASTER_KEY is set), a per-user secret for per-generation
 * callback URLs, and every delivery with each of its attempts.
 */
export class Webhooks1732450000000 implements MigrationInterface {
  name = "Webhooks1732450000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE generations ADD COLUMN callback_url text`);
    await q.query(`CREATE TABLE webhook_endpoints (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
      url text NOT NULL,
      events text[] NOT NULL,
      secret text NOT NULL,
      secret_last4 text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      deleted_at timestamptz
    )`);
    await q.query(`CREATE INDEX webhook_endpoints_user_idx ON webhook_endpoints (user_id) WHERE deleted_at IS NULL`);
    await q.query(`CREATE TABLE webhook_callback_secrets (
      user_id uuid PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
      secret text NOT NULL,
      secret_last4 text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query(`CREATE TABLE webhook_deliveries (
      id uuid PRIMARY KEY,
      event_id uuid NOT NULL,
      user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
      endpoint_id uuid REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
      generation_id uuid,
      target text NOT NULL CHECK (target IN ('endpoint','callback')),
      event text NOT NULL,
      url text NOT NULL,
      body text NOT NULL,
      status text NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING','SUCCEEDED','FAILED','BLOCKED')),
      attempt_count integer NOT NULL DEFAULT 0,
      runs integer NOT NULL DEFAULT 0,
      last_status_code integer,
      last_error text,
      next_attempt_at timestamptz,
      delivered_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query(`CREATE INDEX webhook_deliveries_user_idx ON webhook_deliveries (user_id, created_at DESC)`);
    await q.query(`CREATE INDEX webhook_deliveries_created_idx ON webhook_deliveries (created_at DESC)`);
    await q.query(`CREATE INDEX webhook_deliveries_generation_idx ON webhook_deliveries (generation_id) WHERE generation_id IS NOT NULL`);
    // One delivery per generation and target: the sweep's reconciliation and the live path never both deliver.
    await q.query(`CREATE UNIQUE INDEX webhook_deliveries_once_idx ON webhook_deliveries (generation_id, target, COALESCE(endpoint_id, '00000000-0000-0000-0000-000000000000'::uuid)) WHERE generation_id IS NOT NULL`);
    await q.query(`CREATE INDEX webhook_deliveries_pending_idx ON webhook_deliveries (updated_at) WHERE status = 'PENDING'`);
    await q.query(`CREATE INDEX generations_callback_done_idx ON generations (completed_at) WHERE callback_url IS NOT NULL`);
    await q.query(`CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id, created_at DESC) WHERE endpoint_id IS NOT NULL`);
    await q.query(`CREATE TABLE webhook_attempts (
      delivery_id uuid NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
      attempt_no integer NOT NULL,
      status text NOT NULL CHECK (status IN ('SUCCEEDED','FAILED','BLOCKED')),
      status_code integer,
      latency_ms integer NOT NULL,
      response_excerpt text,
      error text,
      created_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (delivery_id, attempt_no)
    )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE webhook_attempts`);
    await q.query(`DROP TABLE webhook_deliveries`);
    await q.query(`DROP TABLE webhook_callback_secrets`);
    await q.query(`DROP TABLE webhook_endpoints`);
    await q.query(`ALTER TABLE generations DROP COLUMN callback_url`);
  }
}
