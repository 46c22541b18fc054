/**
 * The `webhook_deliveries` and `webhook_attempts` tables: the only module that writes or
 * reads them. A delivery's state and its attempt rows change together, in one statement.
 */
import type { DataSource } from "typeorm";
import type { WebhookEvent } from "./webhook-events";

export type DeliveryStatus = "PENDING" | "SUCCEEDED" | "FAILED" | "BLOCKED";

export interface AttemptView {
  attemptNo: number;
  status: "SUCCEEDED" | "FAILED" | "BLOCKED";
  statusCode: number | null;
  latencyMs: number;
  responseExcerpt: string | null;
  error: string | null;
  createdAt: Date;
}

export interface DeliveryView {
  id: string;
  eventId: string;
  userId: string;
  endpointId: string | null;
  generationId: string | null;
  target: "endpoint" | "callback";
  event: WebhookEvent;
  url: string;
  body: string;
  status: DeliveryStatus;
  attemptCount: number;
  lastStatusCode: number | null;
  lastError: string | null;
  nextAttemptAt: Date | null;
  deliveredAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
  attempts: AttemptView[];
}

/** A PENDING delivery as loaded for an attempt. */
export interface PendingDelivery {
  id: string;
  userId: string;
  url: string;
  body: string;
  event: string;
  target: "endpoint" | "callback";
  endpointId: string | null;
  endpointSecret: string | null;
  endpointDeletedAt: Date | null;
  callbackSecret: string | null;
}

/** A delivery as written: what it sends where (its state starts PENDING, due now). */
export type NewDelivery = Pick<DeliveryView, "id" | "eventId" | "userId" | "endpointId" | "generationId" | "target" | "event" | "url" | "body">;

/** One attempt's result, and the delivery's state after it. */
export interface AttemptRecord {
  status: DeliveryStatus;
  attemptStatus: AttemptView["status"];
  statusCode: number | null;
  error: string | null;
  latencyMs: number;
  excerpt: string | null;
  nextAttemptAt: Date | null;
}

/** The lowest uuid: a cursor position before every row. */
const NIL_UUID = "00000000-0000-0000-0000-000000000000";

const d = (v: unknown): Date | null => (v ? new Date(v as string) : null);

function toDelivery(r: Record<string, unknown>): DeliveryView {
  return {
    id: r.id as string, eventId: r.event_id as string, userId: r.user_id as string, endpointId: (r.endpoint_id as string) ?? null,
    generationId: (r.generation_id as string) ?? null, target: r.target as DeliveryView["target"], event: r.event as WebhookEvent,
    url: r.url as string, body: r.body as string, status: r.status as DeliveryStatus, attemptCount: r.attempt_count as number,
    lastStatusCode: (r.last_status_code as number) ?? null, lastError: (r.last_error as string) ?? null,
    nextAttemptAt: d(r.next_attempt_at), deliveredAt: d(r.delivered_at), createdAt: d(r.created_at)!, updatedAt: d(r.updated_at)!,
    attempts: ((r.attempts as Record<string, unknown>[]) ?? []).map((a) => ({
      attemptNo: a.attempt_no as number, status: a.status as AttemptView["status"], statusCode: (a.status_code as number) ?? null,
      latencyMs: a.latency_ms as number, responseExcerpt: (a.response_excerpt as string) ?? null, error: (a.error as string) ?? null, createdAt: d(a.created_at)!,
    })),
  };
}

const DELIVERY_COLUMNS = `d.*, (SELECT COALESCE(json_agg(a ORDER BY a.attempt_no), '[]'::json) FROM webhook_attempts a WHERE a.delivery_id = d.id) AS attempts`;

export class WebhookDeliveryStore {
  constructor(private readonly ds: DataSource) {}

  /** Newest first, with their attempts; each filter null = any. */
  async list(f: { userId: string | null; generationId: string | null; endpointId: string | null; status: DeliveryStatus | null; first: number }): Promise<DeliveryView[]> {
    const rows = await this.ds.query(
      `SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries d
        WHERE ($1::uuid IS NULL OR d.user_id = $1) AND ($2::uuid IS NULL OR d.generation_id = $2)
          AND ($3::uuid IS NULL OR d.endpoint_id = $3) AND ($4::text IS NULL OR d.status = $4)
        ORDER BY d.created_at DESC, d.id DESC LIMIT $5`,
      [f.userId, f.generationId, f.endpointId, f.status, f.first],
    );
    return rows.map(toDelivery);
  }

  async get(id: string): Promise<DeliveryView | null> {
    const [row] = await this.ds.query(`SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries d WHERE d.id = $1`, [id]);
    return row ? toDelivery(row) : null;
  }

  /** How many runs of attempts the delivery has had (its job ids are per run). */
  async runs(id: string): Promise<number> {
    const [{ runs }] = await this.ds.query(`SELECT runs FROM webhook_deliveries WHERE id = $1`, [id]);
    return runs;
  }

  /** A new run, attempted now, if the delivery is still in `status`; returns the run number, or null when it changed meanwhile. */
  async restart(id: string, status: DeliveryStatus): Promise<number | null> {
    const res = await this.ds.query(
      `UPDATE webhook_deliveries SET status = 'PENDING', runs = runs + 1, next_attempt_at = now(), updated_at = now()
        WHERE id = $1 AND status = $2 RETURNING runs`,
      [id, status],
    );
    const row = res[0]?.[0];
    return row ? row.runs : null;
  }

  /** The delivery with the secret it is signed with, when it is still PENDING (otherwise null). */
  async loadPending(id: string): Promise<PendingDelivery | null> {
    const [row] = await this.ds.query(
      `SELECT d.id, d.user_id, d.url, d.body, d.event, d.status, d.target, d.endpoint_id,
              e.secret AS endpoint_secret, e.deleted_at AS endpoint_deleted_at, c.secret AS callback_secret
         FROM webhook_deliveries d
         LEFT JOIN webhook_endpoints e ON e.id = d.endpoint_id
         LEFT JOIN webhook_callback_secrets c ON c.user_id = d.user_id AND d.target = 'callback'
        WHERE d.id = $1`,
      [id],
    );
    if (!row || row.status !== "PENDING") return null;
    return {
      id: row.id, userId: row.user_id, url: row.url, body: row.body, event: row.event, target: row.target, endpointId: row.endpoint_id ?? null,
      endpointSecret: row.endpoint_secret ?? null, endpointDeletedAt: row.endpoint_deleted_at ?? null, callbackSecret: row.callback_secret ?? null,
    };
  }

  /** The attempt row and the delivery's state, in one statement. */
  async recordAttempt(id: string, a: AttemptRecord): Promise<void> {
    await this.ds.query(
      `WITH d AS (
         UPDATE webhook_deliveries SET attempt_count = attempt_count + 1, status = $2, last_status_code = $3, last_error = $4,
                next_attempt_at = $5, delivered_at = CASE WHEN $2 = 'SUCCEEDED' THEN now() ELSE delivered_at END, updated_at = now()
          WHERE id = $1 RETURNING id, attempt_count
       )
       INSERT INTO webhook_attempts (delivery_id, attempt_no, status, status_code, latency_ms, response_excerpt, error)
       SELECT d.id, d.attempt_count, $6, $3, $7, $8, $4 FROM d`,
      [id, a.status, a.statusCode, a.error, a.nextAttemptAt, a.attemptStatus, a.latencyMs, a.excerpt],
    );
  }

  /** Inserts the deliveries that do not exist yet; returns the ids written. */
  async insertNew(ds: NewDelivery[]): Promise<string[]> {
    // One delivery per generation and target (unique index): the reconciler and the live path never both deliver.
    const rows: { id: string }[] = await this.ds.query(
      `INSERT INTO webhook_deliveries (id, event_id, user_id, endpoint_id, generation_id, target, event, url, body, next_attempt_at)
       SELECT *, now() FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::uuid[], $6::text[], $7::text[], $8::text[], $9::text[])
       ON CONFLICT DO NOTHING RETURNING id`,
      [ds.map((x) => x.id), ds.map((x) => x.eventId), ds.map((x) => x.userId), ds.map((x) => x.endpointId), ds.map((x) => x.generationId),
        ds.map((x) => x.target), ds.map((x) => x.event), ds.map((x) => x.url), ds.map((x) => x.body)],
    );
    return rows.map((r) => r.id);
  }

  /**
   * PENDING deliveries unchanged for `graceMs`, in (updated_at, id) order after `after` (null:
   * from the start). `at` is full-precision timestamptz text, for the cursor.
   */
  pendingPage(graceMs: number, after: { at: string; id: string } | null, limit: number): Promise<{ id: string; runs: number; at: string }[]> {
    return this.ds.query(
      `SELECT id, runs, updated_at::text AS at FROM webhook_deliveries
        WHERE status = 'PENDING' AND updated_at < now() - $1 * interval '1 millisecond'
          AND ($2::timestamptz IS NULL OR (updated_at, id) > ($2::timestamptz, $3::uuid))
        ORDER BY updated_at, id LIMIT $4`,
      [graceMs, after?.at ?? null, after?.id ?? NIL_UUID, limit],
    );
  }

  /**
   * Of these generations, the ones owed a delivery they do not have (raw rows), target by target: a
   * callbackUrl without its callback delivery, or an endpoint that existed when the generation ended,
   * is subscribed to its event and has no delivery of it. Target by target, because the live path can
   * write some and miss one: an endpoint whose row committed just after the terminal statement read
   * the user's endpoints (its created_at, its transaction's start, before the generation's end) is in
   * no snapshot the dispatch saw. Writing them again writes only the missing ones (unique index).
   */
  owedDeliveries(ids: string[]): Promise<Record<string, unknown>[]> {
    return this.ds.query(
      `SELECT g.* FROM generations g
        WHERE g.id = ANY($1::uuid[]) AND g.status IN ('SUCCEEDED','FAILED','CANCELLED')
          AND ((g.callback_url IS NOT NULL
                AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.generation_id = g.id AND d.target = 'callback'))
            OR EXISTS (
                SELECT 1 FROM webhook_endpoints e
                 WHERE e.user_id = g.user_id AND e.deleted_at IS NULL AND e.created_at <= g.completed_at
                   AND ('generation.' || lower(g.status)) = ANY(e.events)
                   AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.generation_id = g.id AND d.target = 'endpoint' AND d.endpoint_id = e.id)))`,
      [ids],
    );
  }
}
