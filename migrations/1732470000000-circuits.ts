import type { MigrationInterface, QueryRunner } from "typeorm";

/** Every circuit breaker transition, for operators and post-mortems. */
export class Circuits1732470000000 implements MigrationInterface {
  name = "Circuits1732470000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE circuit_events (
      id bigserial PRIMARY KEY,
      provider text NOT NULL,
      model text,
      from_state text NOT NULL,
      to_state text NOT NULL,
      reason text NOT NULL,
      consecutive_failures integer NOT NULL DEFAULT 0,
      window_calls integer NOT NULL DEFAULT 0,
      window_failures integer NOT NULL DEFAULT 0,
      next_probe_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query(`CREATE INDEX circuit_events_provider_idx ON circuit_events (provider, created_at DESC)`);
    // What a generation does when every candidate's circuit is OPEN: WAIT for a probe, or FAIL at once.
    await q.query(`ALTER TABLE generations ADD COLUMN when_unavailable text NOT NULL DEFAULT 'WAIT' CHECK (when_unavailable IN ('WAIT','FAIL'))`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE generations DROP COLUMN when_unavailable`);
    await q.query(`DROP TABLE circuit_events`);
  }
}
