import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Hourly analytics rollups (see src/domain/analytics/rollup.service.ts): per user, for all
 * users together, and error counts by code; daily all-users sums of them; plus the rollup
 * watermark. Histograms are
 * int[] counts over fixed log-spaced bucket bounds (ms), recorded in the state row.
 */
export class Analytics1732460000000 implements MigrationInterface {
  name = "Analytics1732460000000";

  async up(q: QueryRunner): Promise<void> {
    const counters = `
      requests integer NOT NULL,
      succeeded integer NOT NULL,
      failed integer NOT NULL,
      cancelled integer NOT NULL,
      in_progress integer NOT NULL,
      cache_hits integer NOT NULL,
      attempts integer NOT NULL,
      retries integer NOT NULL,
      cost_micros bigint NOT NULL,
      latency_hist integer[] NOT NULL,
      queue_wait_hist integer[] NOT NULL`;
    await q.query(`
      CREATE TABLE analytics_hourly (
        hour timestamptz NOT NULL,
        user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        provider text,
        model text NOT NULL,
        modality text NOT NULL,
        ${counters}
      )`);
    await q.query(`CREATE UNIQUE INDEX analytics_hourly_uq ON analytics_hourly (hour, user_id, provider, model, modality) NULLS NOT DISTINCT`);
    await q.query(`CREATE INDEX analytics_hourly_user_idx ON analytics_hourly (user_id, hour)`);
    // Hours rolled up while generations were still in flight: re-rolled until they settle.
    await q.query(`CREATE INDEX analytics_hourly_in_flight_idx ON analytics_hourly (hour) WHERE in_progress > 0`);

    await q.query(`
      CREATE TABLE analytics_hourly_all (
        hour timestamptz NOT NULL,
        provider text,
        model text NOT NULL,
        modality text NOT NULL,
        ${counters}
      )`);
    await q.query(`CREATE UNIQUE INDEX analytics_hourly_all_uq ON analytics_hourly_all (hour, provider, model, modality) NULLS NOT DISTINCT`);

    await q.query(`
      CREATE TABLE analytics_hourly_errors (
        hour timestamptz NOT NULL,
        user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        provider text,
        model text NOT NULL,
        modality text NOT NULL,
        error_code text NOT NULL,
        count integer NOT NULL
      )`);
    await q.query(`CREATE UNIQUE INDEX analytics_hourly_errors_uq ON analytics_hourly_errors (hour, user_id, provider, model, modality, error_code) NULLS NOT DISTINCT`);
    await q.query(`CREATE INDEX analytics_hourly_errors_user_idx ON analytics_hourly_errors (user_id, hour)`);

    // Whole UTC days for all users, summed from the hourly rows: long admin-wide ranges read ~24× fewer rows.
    await q.query(`
      CREATE TABLE analytics_daily_all (
        day timestamptz NOT NULL,
        provider text,
        model text NOT NULL,
        modality text NOT NULL,
        ${counters}
      )`);
    await q.query(`CREATE UNIQUE INDEX analytics_daily_all_uq ON analytics_daily_all (day, provider, model, modality) NULLS NOT DISTINCT`);
    await q.query(`
      CREATE TABLE analytics_daily_errors_all (
        day timestamptz NOT NULL,
        provider text,
        model text NOT NULL,
        modality text NOT NULL,
        error_code text NOT NULL,
        count integer NOT NULL
      )`);
    await q.query(`CREATE UNIQUE INDEX analytics_daily_errors_all_uq ON analytics_daily_errors_all (day, provider, model, modality, error_code) NULLS NOT DISTINCT`);

    await q.query(`
      CREATE TABLE analytics_rollup_state (
        id smallint PRIMARY KEY CHECK (id = 1),
        rolled_up_to timestamptz,
        bucket_bounds_ms float8[],
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`INSERT INTO analytics_rollup_state (id) VALUES (1)`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const t of ["analytics_rollup_state", "analytics_daily_errors_all", "analytics_daily_all", "analytics_hourly_errors", "analytics_hourly_all", "analytics_hourly"]) {
      await q.query(`DROP TABLE IF EXISTS ${t}`);
    }
  }
}
