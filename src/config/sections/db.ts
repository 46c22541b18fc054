/** Postgres, and the analytics reads that may go to a replica. */
import { bool, int, optUrl, url } from "../spec";

const postgres = ["postgres:", "postgresql:"];

export const db = {
  /** The Postgres database. */
  url: url("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/switchboard", postgres),
  /** Connections per process. */
  poolSize: int("DATABASE_POOL_SIZE", 10, 1, 500),
  /**
   * The hot statements as named prepared statements (db/query-rows.ts); false behind a pooler in
   * transaction mode that cannot keep them (PgBouncer before 1.21, or without max_prepared_statements).
   */
  preparedStatements: bool("DATABASE_PREPARED_STATEMENTS", true),
  /** A read replica used only by analytics (`metrics`); unset: DATABASE_URL. */
  readUrl: optUrl("DATABASE_READ_URL", postgres),
};

export const analytics = {
  /** `metrics` ranges up to this long read raw rows (exact percentiles); longer ones read hourly rollups, hours. */
  rawMaxHours: int("ANALYTICS_RAW_MAX_HOURS", 48, 1, 24 * 400),
  /** How often a worker rolls up finished hours (0 = never), ms. */
  rollupIntervalMs: int("ANALYTICS_ROLLUP_INTERVAL_MS", 300_000, 0),
};
