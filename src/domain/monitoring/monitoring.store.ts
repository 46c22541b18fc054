/**
 * What monitoring reads from Postgres: each provider's recent attempts, aggregated (a read
 * model: the generation store alone writes `generation_attempts`). Nothing here writes.
 */
import type { DataSource } from "typeorm";

/** One provider's attempts in one window (counts as text: bigint). */
export interface AttemptWindowRow {
  provider: string;
  recent: boolean;
  latency_n: string;
  latency_mean: string | null;
  latency_stddev: string | null;
  calls: string;
  errors: string;
}

// Errors that are the request's fault say nothing about the provider's health.
const WINDOWS_SQL = `
  SELECT provider,
         created_at >= now() - $2 * interval '1 millisecond' AS recent,
         count(*) FILTER (WHERE status = 'SUCCEEDED' AND latency_ms IS NOT NULL) AS latency_n,
         avg(latency_ms) FILTER (WHERE status = 'SUCCEEDED') AS latency_mean,
         stddev_pop(latency_ms) FILTER (WHERE status = 'SUCCEEDED') AS latency_stddev,
         count(*) FILTER (WHERE status IN ('SUCCEEDED', 'FAILED', 'INVALID')) AS calls,
         count(*) FILTER (WHERE status IN ('FAILED', 'INVALID')
                            AND COALESCE(error_kind, '') NOT IN ('invalid_request', 'content_policy', 'cancelled')) AS errors
    FROM generation_attempts
   WHERE created_at >= now() - $1 * interval '1 millisecond'
   GROUP BY provider, recent`;

export class MonitoringStore {
  constructor(private readonly ds: DataSource) {}

  /** Per provider, the attempts of the last `baselineMs`, split into the recent window (the last `recentMs`) and the rest. */
  attemptWindows(baselineMs: number, recentMs: number): Promise<AttemptWindowRow[]> {
    return this.ds.query(WINDOWS_SQL, [baselineMs, recentMs]);
  }
}
