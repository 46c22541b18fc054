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
import { WebhookDeliveryStore, type DeliveryStatus, type DeliveryView } from "./webhook-delivery.store";
import { WEBHOOK_EVENTS, type WebhookEvent } from "./webhook-events";
import type { WebhookScheduler } from "./webhook-scheduler";
import { newSigningSecret } from "./webhook-signature";
import { WebhookStore, type EndpointView } from "./webhook.store";

export type { AttemptView, DeliveryStatus, DeliveryView } from "./webhook-delivery.store";
export type { EndpointView } from "./webhook.store";

/** Live endpoints a user may have (each terminal generation fans out to all of them). */
export const MAX_ENDPOINTS_PER_USER = 20;

export interface DeliveryFilter {
  first?: number | null;
  generationId?: string | null;
  endpointId?: string | null;
  status?: DeliveryStatus | null;
}

export class WebhookService {
  private readonly endpoints: WebhookStore;
  private readonly deliveries: WebhookDeliveryStore;

  constructor(
    ds: DataSource,
    private readonly scheduler: WebhookScheduler,
    private readonly policy: AddressPolicy,
    private readonly box: SecretBox,
    private readonly maxPageSize: number,
  ) {
    this.endpoints = new WebhookStore(ds);
    this.deliveries = new WebhookDeliveryStore(ds);
  }

  /** Registers an endpoint; the signing secret is returned here only. */
  async createEndpoint(viewer: Viewer, url: string, events: WebhookEvent[]): Promise<{ endpoint: EndpointView; secret: string }> {
    const checked = this.policy.checkUrl(url, "url");
    const wanted = [...new Set(events)];
    if (!wanted.length) throw new BadUserInputError("events must name at least one event type", { field: "events" });
    if (wanted.some((e) => !WEBHOOK_EVENTS.includes(e))) throw new BadUserInputError(`events must be among ${WEBHOOK_EVENTS.join(", ")}`, { field: "events" });
    const secret = newSigningSecret();
    const endpoint = await this.endpoints.insertEndpoint(
      { userId: viewer.userId, url: checked.href, events: wanted, sealedSecret: this.box.seal(secret), secretLast4: secretHint(secret) },
      MAX_ENDPOINTS_PER_USER,
    );
    if (!endpoint) throw new ConflictError(`You already have ${MAX_ENDPOINTS_PER_USER} webhook endpoints, the most allowed; delete one first`);
    return { endpoint, secret };
  }

  listEndpoints(viewer: Viewer): Promise<EndpointView[]> {
    return this.endpoints.listEndpoints(viewer.userId);
  }

  /** Deletes one of the viewer's endpoints (admins: anyone's); its pending deliveries stop. */
  async deleteEndpoint(viewer: Viewer, id: string): Promise<boolean> {
    if (!isUuid(id)) throw new NotFoundError("WebhookEndpoint", id);
    if (!(await this.endpoints.deleteEndpoint(id, isAdmin(viewer) ? null : viewer.userId))) throw new NotFoundError("WebhookEndpoint", id);
    return true;
  }

  /** A new secret for the viewer's callbackUrl deliveries (the old one stops signing at once); returned here only. */
  async rotateCallbackSecret(viewer: Viewer): Promise<{ secret: string; createdAt: Date }> {
    const secret = newSigningSecret();
    const createdAt = await this.endpoints.upsertCallbackSecret(viewer.userId, this.box.seal(secret), secretHint(secret));
    return { secret, createdAt };
  }

  /** createGeneration's callbackUrl: a valid public http(s) URL, and a callback secret to sign with. */
  async checkCallbackUrl(viewer: Viewer, url: string): Promise<void> {
    this.policy.checkUrl(url, "callbackUrl");
    if (!(await this.endpoints.hasCallbackSecret(viewer.userId))) throw new BadUserInputError("callbackUrl deliveries are signed with your callback secret: create one first with rotateCallbackSecret", { field: "callbackUrl" });
  }

  /** Deliveries newest first, with their attempts: the viewer's own (admins: everyone's). */
  async listDeliveries(viewer: Viewer, f: DeliveryFilter): Promise<DeliveryView[]> {
    const first = f.first ?? 20;
    if (!Number.isInteger(first) || first < 1 || first > this.maxPageSize) throw new BadUserInputError(`first must be between 1 and ${this.maxPageSize}`, { field: "first" });
    for (const field of ["generationId", "endpointId"] as const)
      if (f[field] != null && !isUuid(f[field]!)) throw new BadUserInputError(`${field} is not an id`, { field });
    return this.deliveries.list({
      userId: isAdmin(viewer) ? null : viewer.userId, generationId: f.generationId ?? null, endpointId: f.endpointId ?? null, status: f.status ?? null, first,
    });
  }

  private async getDelivery(viewer: Viewer, id: string): Promise<DeliveryView> {
    if (!isUuid(id)) throw new NotFoundError("WebhookDelivery", id);
    const delivery = await this.deliveries.get(id);
    if (!delivery || (delivery.userId !== viewer.userId && !isAdmin(viewer))) throw new NotFoundError("WebhookDelivery", id);
    return delivery;
  }

  /**
   * Delivers again: a finished delivery (succeeded, failed or blocked) gets a fresh run of
   * attempts with the same body (same event id); one backing off is attempted now. One
   * already waiting for or in an attempt is a CONFLICT.
   */
  async redeliver(viewer: Viewer, id: string): Promise<DeliveryView> {
    const current = await this.getDelivery(viewer, id);
    if (current.status === "PENDING") {
      const runs = await this.deliveries.runs(id);
      const state = await this.scheduler.state(id, runs);
      if (state === "delayed" && (await this.scheduler.promote(id, runs))) return this.getDelivery(viewer, id);
      if (state === "waiting" || state === "active" || state === "delayed") throw new ConflictError(`Webhook delivery ${id} is being delivered already`, { status: current.status });
      // PENDING but its job is gone (lost enqueue, flushed Redis): start a new run below.
    }
    const run = await this.deliveries.restart(id, current.status);
    if (run === null) throw new ConflictError(`Webhook delivery ${id} changed meanwhile; try again`);
    await this.scheduler.enqueue([{ deliveryId: id, run }]);
    return this.getDelivery(viewer, id);
  }
}
