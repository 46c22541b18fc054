/**
 * Alerts: a row in `alerts` and a broadcast event. Raised here for disabled provider keys;
 * budget warnings and anomalies raise them too.
 */
import type { DataSource } from "typeorm";
import type { EventBus } from "../../realtime/event-bus";
import { Topic, type AlertPayload } from "../../realtime/topics";

export interface AlertInit {
  kind: string;
  severity: AlertPayload["severity"];
  provider?: string | null;
  message: string;
  details?: Record<string, unknown>;
}

export class AlertsService {
  private readonly hooks: ((a: AlertPayload) => void)[] = [];

  constructor(private readonly ds: DataSource, private readonly bus: EventBus) {}

  /** Runs `fn` in the process that raised an alert, once per alert (the monitoring webhook, metrics). */
  onRaised(fn: (a: AlertPayload) => void): void {
    this.hooks.push(fn);
  }

  async raise(a: AlertInit): Promise<AlertPayload> {
    const [row] = await this.ds.query(
      `INSERT INTO alerts (kind, severity, provider, message, details) VALUES ($1, $2, $3, $4, $5)
       RETURNING id, kind, severity, provider, message, details, created_at`,
      [a.kind, a.severity, a.provider ?? null, a.message, JSON.stringify(a.details ?? {})],
    );
    const alert = toAlert(row);
    await this.bus.publish(Topic.ALERT_RAISED, undefined, alert);
    for (const fn of this.hooks) {
      try {
        fn(alert);
      } catch {
        /* a hook never breaks raising the alert */
      }
    }
    return alert;
  }

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
