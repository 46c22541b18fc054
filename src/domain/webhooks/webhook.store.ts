/**
 * The `webhook_endpoints` and `webhook_callback_secrets` tables: the only module that writes
 * or reads them (the delivery store joins them to read a delivery's secret).
 */
import type { DataSource } from "typeorm";
import { queryRows } from "../../db/query-rows";
import type { WebhookEvent } from "./webhook-events";

export interface EndpointView {
  id: string;
  url: string;
  events: WebhookEvent[];
  secretLast4: string;
  createdAt: Date;
}

/** An endpoint as the dispatcher matches it against events. */
export interface LiveEndpointRow {
  id: string;
  user_id: string;
  url: string;
  events: string[];
  created_at: Date;
}

const d = (v: unknown): Date | null => (v ? new Date(v as string) : null);

function toEndpoint(r: Record<string, unknown>): EndpointView {
  return { id: r.id as string, url: r.url as string, events: r.events as WebhookEvent[], secretLast4: r.secret_last4 as string, createdAt: d(r.created_at)! };
}

export class WebhookStore {
  constructor(private readonly ds: DataSource) {}

  /** Inserts the endpoint unless the user has `max` live ones already (then null). */
  async insertEndpoint(e: { userId: string; url: string; events: WebhookEvent[]; sealedSecret: string; secretLast4: string }, max: number): Promise<EndpointView | null> {
    const [row] = await this.ds.query(
      `INSERT INTO webhook_endpoints (user_id, url, events, secret, secret_last4)
       SELECT $1, $2, $3, $4, $5
        WHERE (SELECT count(*) FROM webhook_endpoints WHERE user_id = $1 AND deleted_at IS NULL) < $6
       RETURNING id, url, events, secret_last4, created_at`,
      [e.userId, e.url, e.events, e.sealedSecret, e.secretLast4, max],
    );
    return row ? toEndpoint(row) : null;
  }

  async listEndpoints(userId: string): Promise<EndpointView[]> {
    const rows = await this.ds.query(
      `SELECT id, url, events, secret_last4, created_at FROM webhook_endpoints WHERE user_id = $1 AND deleted_at IS NULL ORDER BY created_at, id`,
      [userId],
    );
    return rows.map(toEndpoint);
  }

  /** Soft-deletes a live endpoint (of `ownerId` only, unless null); false when there is none. */
  async deleteEndpoint(id: string, ownerId: string | null): Promise<boolean> {
    const res = await this.ds.query(
      `UPDATE webhook_endpoints SET deleted_at = now() WHERE id = $1 AND deleted_at IS NULL AND ($2::uuid IS NULL OR user_id = $2) RETURNING id`,
      [id, ownerId],
    );
    return !!res[0]?.length;
  }

  /** Live endpoints of these users (every event type). Looked up on every terminal transition: a prepared statement (db/query-rows.ts). */
  liveEndpointsOf(userIds: string[]): Promise<LiveEndpointRow[]> {
    return queryRows<LiveEndpointRow>(
      this.ds,
      `SELECT id, user_id, url, events, created_at FROM webhook_endpoints WHERE user_id = ANY($1::uuid[]) AND deleted_at IS NULL`,
      [userIds],
      { prepare: true },
    );
  }

  /** The user's live endpoints subscribed to quota.warning. */
  quotaWarningEndpoints(userId: string): Promise<{ id: string; url: string }[]> {
    return this.ds.query(
      `SELECT id, url FROM webhook_endpoints WHERE user_id = $1 AND deleted_at IS NULL AND 'quota.warning' = ANY(events)`,
      [userId],
    );
  }

  /** Sets (or replaces) the user's callback secret; returns when it was created. */
  async upsertCallbackSecret(userId: string, sealedSecret: string, secretLast4: string): Promise<Date> {
    const [row] = await this.ds.query(
      `INSERT INTO webhook_callback_secrets (user_id, secret, secret_last4) VALUES ($1, $2, $3)
       ON CONFLICT (user_id) DO UPDATE SET secret = EXCLUDED.secret, secret_last4 = EXCLUDED.secret_last4, created_at = now()
       RETURNING created_at`,
      [userId, sealedSecret, secretLast4],
    );
    return d(row.created_at)!;
  }

  async hasCallbackSecret(userId: string): Promise<boolean> {
    const [has] = await this.ds.query(`SELECT 1 FROM webhook_callback_secrets WHERE user_id = $1`, [userId]);
    return !!has;
  }
}
