/** The `circuit_events` table (the history of circuit transitions): the only module that writes or reads it. */
import type { DataSource } from "typeorm";

export interface CircuitEventRow {
  provider: string;
  model: string | null;
  /** A CircuitState. */
  from: string;
  to: string;
  reason: string;
  consecutiveFailures: number;
  windowCalls: number;
  windowFailures: number;
  nextProbeAt: Date | null;
  at: Date;
}

export class CircuitEventStore {
  constructor(private readonly ds: DataSource) {}

  async insert(e: Omit<CircuitEventRow, "at" | "nextProbeAt"> & { nextProbeAt: string | null }): Promise<void> {
    await this.ds.query(
      `INSERT INTO circuit_events (provider, model, from_state, to_state, reason, consecutive_failures, window_calls, window_failures, next_probe_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [e.provider, e.model, e.from, e.to, e.reason, e.consecutiveFailures, e.windowCalls, e.windowFailures, e.nextProbeAt],
    );
  }

  /** The latest transitions, newest first (of one provider, or all). */
  async recent(provider: string | null, first: number): Promise<CircuitEventRow[]> {
    const rows: Record<string, unknown>[] = await this.ds.query(
      `SELECT provider, model, from_state, to_state, reason, consecutive_failures, window_calls, window_failures, next_probe_at, created_at
         FROM circuit_events WHERE ($1::text IS NULL OR provider = $1) ORDER BY id DESC LIMIT $2`,
      [provider, first],
    );
    return rows.map((r) => ({
      provider: r.provider as string, model: (r.model as string) ?? null, from: r.from_state as string, to: r.to_state as string,
      reason: r.reason as string, consecutiveFailures: r.consecutive_failures as number, windowCalls: r.window_calls as number,
      windowFailures: r.window_failures as number, nextProbeAt: r.next_probe_at ? new Date(r.next_probe_at as string) : null, at: new Date(r.created_at as string),
    }));
  }
}
