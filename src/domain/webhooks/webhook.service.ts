/**
 * Webhooks as users manage them: endpoints (url + subscribed events + a signing secret
 * shown once), the per-user callback secret that signs createGeneration `callbackUrl`
 * deliveries, the delivery log with every attempt, and redelivery.
 */
import type { DataSource } from "typeorm";
import { BadUserInputError, ConflictError, NotFoundError } from "../../common/errors";
import { isUuid } from "../../common/ids";
import { isAdmin, type Viewer } from "../viewer";
import type { AddressPolicy } from "./address-policy";
import { secretHint, type SecretBox } from "./secret-box";
import { WEBHOOK_EVENTS, type WebhookEvent } from "./webhook-events";
import type { WebhookScheduler } from "./webhook-scheduler";
import { newSigningSecret } from "./webhook-signature";

/** Live endpoints a user may have (each terminal generation fans out to all of them). */
export const MAX_ENDPOINTS_PER_USER = 20;

export type DeliveryStatus = "PENDING" | "SUCCEEDED" | "FAILED" | "BLOCKED";

export interface EndpointView {
  id: string;
  url: string;
  events: WebhookEvent[];
  secretLast4: string;
  createdAt: Date;
}

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

export interface DeliveryFilter {
  first?: number | null;
  generationId?: string | null;
  endpointId?: string | null;
  status?: DeliveryStatus | null;
}

const d = (v: unknown): Date | null => (v ? new Date(v as string) : null);

function toEndpoint(r: Record<string, unknown>): EndpointView {
  return { id: r.id as string, url: r.url as string, events: r.events as WebhookEvent[], secretLast4: r.secret_last4 as string, createdAt: d(r.created_at)! };
}

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

export class WebhookService {
  constructor(
    private readonly ds: DataSource,
    private readonly scheduler: WebhookScheduler,
    private readonly policy: AddressPolicy,
    private readonly box: SecretBox,
    private readonly maxPageSize: number,
  ) {}

  /** Registers an endpoint; the signing secret is returned here only. */
  async createEndpoint(viewer: Viewer, url: string, events: WebhookEvent[]): Promise<{ endpoint: EndpointView; secret: string }> {
    const checked = this.policy.checkUrl(url, "url");
    const wanted = [...new Set(events)];
    if (!wanted.length) throw new BadUserInputError("events must name at least one event type", { field: "events" });
    if (wanted.some((e) => !WEBHOOK_EVENTS.includes(e))) throw new BadUserInputError(`events must be among ${WEBHOOK_EVENTS.join(", ")}`, { field: "events" });
    const secret = newSigningSecret();
    const [row] = await this.ds.query(
      `INSERT INTO webhook_endpoints (user_id, url, events, secret, secret_last4)
       SELECT $1, $2, $3, $4, $5
        WHERE (SELECT count(*) FROM webhook_endpoints WHERE user_id = $1 AND deleted_at IS NULL) < $6
       RETURNING id, url, events, secret_last4, created_at`,
      [viewer.userId, checked.href, wanted, this.box.seal(secret), secretHint(secret), MAX_ENDPOINTS_PER_USER],
    );
    if (!row) throw new ConflictError(`You already have ${MAX_ENDPOINTS_PER_USER} webhook endpoints, the most allowed; delete one first`);
    return { endpoint: toEndpoint(row), secret };
  }

  async listEndpoints(viewer: Viewer): Promise<EndpointView[]> {
    const rows = await this.ds.query(
      `SELECT id, url, events, secret_last4, created_at FROM webhook_endpoints WHERE user_id = $1 AND deleted_at IS NULL ORDER BY created_at, id`,
      [viewer.userId],
    );
    return rows.map(toEndpoint);
  }

  /** Deletes one of the viewer's endpoints (admins: anyone's); its pending deliveries stop. */
  async deleteEndpoint(viewer: Viewer, id: string): Promise<boolean> {
    if (!isUuid(id)) throw new NotFoundError("WebhookEndpoint", id);
    const res = await this.ds.query(
      `UPDATE webhook_endpoints SET deleted_at = now() WHERE id = $1 AND deleted_at IS NULL AND ($2::uuid IS NULL OR user_id = $2) RETURNING id`,
      [id, isAdmin(viewer) ? null : viewer.userId],
    );
    if (!res[0]?.length) throw new NotFoundError("WebhookEndpoint", id);
    return true;
  }

  /** A new secret for the viewer's callbackUrl deliveries (the old one stops signing at once); returned here only. */
  async rotateCallbackSecret(viewer: Viewer): Promise<{ secret: string; createdAt: Date }> {
    const secret = newSigningSecret();
    const [row] = await this.ds.query(
      `INSERT INTO webhook_callback_secrets (user_id, secret, secret_last4) VALUES ($1, $2, $3)
       ON CONFLICT (user_id) DO UPDATE SET secret = EXCLUDED.secret, secret_last4 = EXCLUDED.secret_last4, created_at = now()
       RETURNING created_at`,
      [viewer.userId, this.box.seal(secret), secretHint(secret)],
    );
    return { secret, createdAt: d(row.created_at)! };
  }

  /** createGeneration's callbackUrl: a valid public http(s) URL, and a callback secret to sign with. */
  async checkCallbackUrl(viewer: Viewer, url: string): Promise<void> {
    this.policy.checkUrl(url, "callbackUrl");
    const [has] = await this.ds.query(`SELECT 1 FROM webhook_callback_secrets WHERE user_id = $1`, [viewer.userId]);
    if (!has) throw new BadUserInputError("callbackUrl deliveries are signed with your callback secret: create one first with rotateCallbackSecret", { field: "callbackUrl" });
  }

  /** Deliveries newest first, with their attempts: the viewer's own (admins: everyone's). */
  async listDeliveries(viewer: Viewer, f: DeliveryFilter): Promise<DeliveryView[]> {
    const first = f.first ?? 20;
    if (!Number.isInteger(first) || first < 1 || first > this.maxPageSize) throw new BadUserInputError(`first must be between 1 and ${this.maxPageSize}`, { field: "first" });
    for (const field of ["generationId", "endpointId"] as const)
      if (f[field] != null && !isUuid(f[field]!)) throw new BadUserInputError(`${field} is not an id`, { field });
    const rows = await this.ds.query(
      `SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries d
        WHERE ($1::uuid IS NULL OR d.user_id = $1) AND ($2::uuid IS NULL OR d.generation_id = $2)
          AND ($3::uuid IS NULL OR d.endpoint_id = $3) AND ($4::text IS NULL OR d.status = $4)
        ORDER BY d.created_at DESC, d.id DESC LIMIT $5`,
      [isAdmin(viewer) ? null : viewer.userId, f.generationId ?? null, f.endpointId ?? null, f.status ?? null, first],
    );
    return rows.map(toDelivery);
  }

  private async getDelivery(viewer: Viewer, id: string): Promise<DeliveryView> {
    if (!isUuid(id)) throw new NotFoundError("WebhookDelivery", id);
    const [row] = await this.ds.query(`SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries d WHERE d.id = $1`, [id]);
    if (!row || (row.user_id !== viewer.userId && !isAdmin(viewer))) throw new NotFoundError("WebhookDelivery", id);
    return toDelivery(row);
  }

  /**
   * Delivers again: a finished delivery (succeeded, failed or blocked) gets a fresh run of
   * attempts with the same body (same event id); one backing off is attempted now. One
   * already waiting for or in an attempt is a CONFLICT.
   */
  async redeliver(viewer: Viewer, id: string): Promise<DeliveryView> {
    const current = await this.getDelivery(viewer, id);
    if (current.status === "PENDING") {
      const [{ runs }] = await this.ds.query(`SELECT runs FROM webhook_deliveries WHERE id = $1`, [id]);
      const state = await this.scheduler.state(id, runs);
      if (state === "delayed" && (await this.scheduler.promote(id, runs))) return this.getDelivery(viewer, id);
      if (state === "waiting" || state === "active" || state === "delayed") throw new ConflictError(`Webhook delivery ${id} is being delivered already`, { status: current.status });
      // PENDING but its job is gone (lost enqueue, flushed Redis): start a new run below.
    }
    const res = await this.ds.query(
      `UPDATE webhook_deliveries SET status = 'PENDING', runs = runs + 1, next_attempt_at = now(), updated_at = now()
        WHERE id = $1 AND status = $2 RETURNING runs`,
      [id, current.status],
    );
    const row = res[0]?.[0];
    if (!row) throw new ConflictError(`Webhook delivery ${id} changed meanwhile; try again`);
    await this.scheduler.enqueue([{ deliveryId: id, run: row.runs }]);
    return this.getDelivery(viewer, id);
  }
}
