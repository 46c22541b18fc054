import type { MigrationInterface, QueryRunner } from "typeorm";

/** Users, API keys, generations and their upstream attempts, blobs and settings. */
export class Initial1732370000000 implements MigrationInterface {
  name = "Initial1732370000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE users (
        id uuid PRIMARY KEY,
        email text NOT NULL,
        role text NOT NULL CHECK (role IN ('ADMIN','USER')),
        tier text NOT NULL CHECK (tier IN ('free','pro','enterprise')),
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE UNIQUE INDEX users_email_uq ON users (lower(email))`);

    await q.query(`
      CREATE TABLE api_keys (
        id uuid PRIMARY KEY,
        user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        label text,
        prefix text NOT NULL,
        key_hash text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        revoked_at timestamptz,
        last_used_at timestamptz
      )`);
    await q.query(`CREATE UNIQUE INDEX api_keys_hash_uq ON api_keys (key_hash)`);
    await q.query(`CREATE UNIQUE INDEX api_keys_prefix_uq ON api_keys (prefix)`);
    await q.query(`CREATE INDEX api_keys_user_idx ON api_keys (user_id)`);

    await q.query(`
      CREATE TABLE generations (
        id uuid PRIMARY KEY,
        user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        api_key_id uuid REFERENCES api_keys(id) ON DELETE SET NULL,
        status text NOT NULL CHECK (status IN ('QUEUED','RUNNING','SUCCEEDED','FAILED','CANCELLED')),
        modality text NOT NULL,
        model text NOT NULL,
        provider text,
        provider_model text,
        prompt text,
        messages jsonb,
        system text,
        text_options jsonb,
        image_options jsonb,
        video_options jsonb,
        audio_options jsonb,
        params jsonb NOT NULL DEFAULT '{}'::jsonb,
        priority text NOT NULL CHECK (priority IN ('HIGH','NORMAL','LOW')),
        seed integer,
        progress real NOT NULL DEFAULT 0,
        output jsonb,
        error_code text,
        error_message text,
        cached boolean NOT NULL DEFAULT false,
        estimated_cost_micros bigint NOT NULL DEFAULT 0,
        cost_micros bigint,
        idempotency_key text,
        run_attempt integer NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        started_at timestamptz,
        completed_at timestamptz
      )`);
    await q.query(
      `CREATE UNIQUE INDEX generations_idempotency_uq ON generations (user_id, idempotency_key) WHERE idempotency_key IS NOT NULL`,
    );
    await q.query(`CREATE INDEX generations_user_created_idx ON generations (user_id, created_at DESC, id DESC)`);
    await q.query(`CREATE INDEX generations_created_idx ON generations (created_at DESC, id DESC)`);
    await q.query(
      `CREATE INDEX generations_active_idx ON generations (updated_at) WHERE status IN ('QUEUED','RUNNING')`,
    );

    await q.query(`
      CREATE TABLE generation_attempts (
        id uuid PRIMARY KEY,
        generation_id uuid NOT NULL REFERENCES generations(id) ON DELETE CASCADE,
        attempt_no integer NOT NULL,
        provider text NOT NULL,
        model text NOT NULL,
        key_label text,
        status text NOT NULL CHECK (status IN ('RUNNING','SUCCEEDED','FAILED','CANCELLED')),
        latency_ms integer,
        error_kind text,
        error_message text,
        cost_micros bigint NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(
      `CREATE UNIQUE INDEX generation_attempts_uq ON generation_attempts (generation_id, attempt_no)`,
    );

    await q.query(`
      CREATE TABLE blobs (
        key text PRIMARY KEY,
        mime_type text NOT NULL,
        size_bytes integer NOT NULL,
        data bytea NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX blobs_created_idx ON blobs (created_at)`);

    await q.query(`CREATE TABLE settings (key text PRIMARY KEY, value text NOT NULL)`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const t of ["settings", "blobs", "generation_attempts", "generations", "api_keys", "users"]) {
      await q.query(`DROP TABLE IF EXISTS ${t}`);
    }
  }
}
