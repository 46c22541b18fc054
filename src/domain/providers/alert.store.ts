/** The `alerts` table: the only module that writes or reads it. */
import type { DataSource } from "typeorm";
import type { AlertPayload } from "../../realtime/topics";

export interface AlertInit {
  kind: string;
  severity: AlertPayload["severity"];
  provider?: string | null;
  message: string;
  details?: Record<string, unknown>;
}

export class AlertStore {
  constructor(private readonly ds: DataSource) {}

  async insert(a: AlertInit): Promise<AlertPayload> {
    const [row] = await this.ds.query(
      `INSERT INTO alerts (kind, severity, provider, message, details) VALUES ($1, $2, $3, $4, $5)
       RETURNING id, kind, severity, provider, message, details, created_at`,
      [a.kind, a.severity, a.provider ?? null, a.message, JSON.stringify(a.details ?? {})],
    );
    return toAlert(row);
  }

  /** Newest first. */
  async list(opts: { first: number; kind?: string; provider?: string }): Promise<AlertPayload[]> {
    const rows = await this.ds.query(
      `SELECT id, kind, severity, provider, message, details, created_at FROM alerts
        WHERE ($2::text IS NULL OR kind = $2) AND ($3::text IS NULL OR provider = $3)
        ORDER BY created_at DESC LIMIT $1`,
      [opts.first, opts.kind ?? null, opts.provider ?? null],
    );
    return rows.map(toAlert);
  }
}

function toAlert(r: Record<string, unknown>): AlertPayload {
  return {
    id: r.id as string, kind: r.kind as string, severity: r.severity as AlertPayload["severity"], provider: (r.provider as string) ?? null,
    message: r.message as string, details: (r.details as Record<string, unknown>) ?? {}, createdAt: new Date(r.created_at as string).toISOString(),
  };
}
