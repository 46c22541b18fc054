/**
 * Turns events into deliveries: a generation's terminal transition (GenerationEvents.onTerminal)
 * goes to the user's endpoints subscribed to it and to the generation's callbackUrl; a
 * budget warning (QuotaService.onWarning) raises an alert and goes to endpoints subscribed
 * to quota.warning. Deliveries are rows first, then jobs: terminal events of one
 * event-loop turn share one endpoint lookup (none for a success: its transition read the user's
 * endpoints, GenerationEntity.liveWebhookEndpoints), one insert and one enqueue. An endpoint gets only
 * events that happened after it was created (a new endpoint is not a backfill of history).
 */
import { randomUUID } from "node:crypto";
import type { DataSource } from "typeorm";
import { TickBatcher } from "../../common/tick-batcher";
import type { GenerationEntity, LiveWebhookEndpoint } from "../../db/entities/generation.entity";
import type { TerminalType } from "../generations/generation-events";
import { GenerationStore } from "../generations/generation.store";
import type { Logger } from "../../observability/logger";
import type { AlertsService } from "../providers/alerts.service";
import type { QuotaService } from "../quotas/quota.service";
import { systemViewer } from "../viewer";
import { WebhookDeliveryStore, type NewDelivery } from "./webhook-delivery.store";
import { generationBody, quotaWarningBody, TERMINAL_EVENTS, type WebhookEvent } from "./webhook-events";
import type { WebhookScheduler } from "./webhook-scheduler";
import { WebhookStore } from "./webhook.store";

export interface Terminal {
  g: GenerationEntity;
  event: WebhookEvent;
}

export class WebhookDispatcher {
  private readonly terminals = new TickBatcher<Terminal, void>((items) => this.dispatchTerminals(items));
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly endpoints: WebhookStore;
  private readonly deliveries: WebhookDeliveryStore;
  private readonly generations: GenerationStore;

  constructor(
    ds: DataSource,
    private readonly scheduler: WebhookScheduler,
    private readonly quotas: QuotaService,
    private readonly alerts: AlertsService,
    private readonly warnRatio: number,
    private readonly log: Logger,
  ) {
    this.endpoints = new WebhookStore(ds);
    this.deliveries = new WebhookDeliveryStore(ds);
    this.generations = new GenerationStore(ds);
  }

  /** A GenerationEvents terminal listener: never throws, never blocks the event. */
  generationEnded(g: GenerationEntity, type: TerminalType): void {
    this.track(this.terminals.add({ g, event: TERMINAL_EVENTS[type] }), { generationId: g.id }, "webhook dispatch failed");
  }

  /** For QuotaService.onWarning: an alert and quota.warning deliveries. */
  quotaWarning(userId: string): void {
    this.track(this.dispatchQuotaWarning(userId), { userId }, "budget warning dispatch failed");
  }

  /** Resolves once every dispatch started so far has been written and enqueued (shutdown). */
  async drain(): Promise<void> {
    while (this.inFlight.size) await Promise.allSettled([...this.inFlight]);
  }

  private track(p: Promise<unknown>, ctx: Record<string, unknown>, msg: string): void {
    const tracked = p.catch((err) => this.log.error({ err, ...ctx }, msg)).finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
  }

  private async dispatchTerminals(items: Terminal[]): Promise<void[]> {
    await this.writeTerminals(items);
    return items.map((): void => undefined);
  }

  /**
   * Writes and enqueues the deliveries of terminal events: to the user's endpoints subscribed to
   * the event and created before it happened, and to the generation's callbackUrl. A delivery
   * that exists already is not written again (unique index). Returns the deliveries written.
   */
  async writeTerminals(items: Terminal[]): Promise<number> {
    if (!items.length) return 0;
    // A success transition read its user's endpoints with it (liveWebhookEndpoints); only the others are looked up.
    const userIds = [...new Set(items.filter((i) => !i.g.liveWebhookEndpoints).map((i) => i.g.userId))];
    const looked: LiveWebhookEndpoint[] = userIds.length ? await this.endpoints.liveEndpointsOf(userIds) : [];
    // Rows built from a RETURNING * carry callback_url; anything else is looked up.
    const unknownCallback = items.filter((i) => i.g.callbackUrl === undefined).map((i) => i.g.id);
    const callbacks = new Map<string, string | null>();
    if (unknownCallback.length) for (const r of await this.generations.findByIds(unknownCallback)) callbacks.set(r.id, r.callbackUrl);
    const deliveries: NewDelivery[] = [];
    for (const { g, event } of items) {
      const callbackUrl = g.callbackUrl !== undefined ? g.callbackUrl : (callbacks.get(g.id) ?? null);
      const happenedAt = g.completedAt ? new Date(g.completedAt).getTime() : Date.now();
      const targets = (g.liveWebhookEndpoints ?? looked).filter((e) => e.user_id === g.userId && e.events.includes(event) && new Date(e.created_at).getTime() <= happenedAt);
      if (!targets.length && !callbackUrl) continue;
      const eventId = randomUUID();
      const body = generationBody(eventId, event, g);
      const base = { eventId, userId: g.userId, generationId: g.id, event, body };
      for (const e of targets) deliveries.push({ ...base, id: randomUUID(), endpointId: e.id, target: "endpoint", url: e.url });
      if (callbackUrl) deliveries.push({ ...base, id: randomUUID(), endpointId: null, target: "callback", url: callbackUrl });
    }
    return this.insertAndEnqueue(deliveries);
  }

  private async dispatchQuotaWarning(userId: string): Promise<void> {
    const q = await this.quotas.get(systemViewer("budget-warning"), userId);
    const used = q.limitMicros > 0 ? (q.spentMicros + q.reservedMicros) / q.limitMicros : 1;
    const usd = (m: number) => `$${(m / 1e6).toFixed(2)}`;
    await this.alerts.raise({
      kind: "budget_warning",
      severity: "warning",
      message: `User ${userId} has used ${Math.round(used * 100)}% of its ${usd(q.limitMicros)} budget (spent ${usd(q.spentMicros)}, reserved ${usd(q.reservedMicros)}) for the period ending ${q.periodEnd.toISOString()}`,
      details: { userId, limitMicros: q.limitMicros, spentMicros: q.spentMicros, reservedMicros: q.reservedMicros, warnRatio: this.warnRatio, periodStart: q.periodStart.toISOString(), periodEnd: q.periodEnd.toISOString() },
    });
    const endpoints = await this.endpoints.quotaWarningEndpoints(userId);
    if (!endpoints.length) return;
    const eventId = randomUUID();
    const body = quotaWarningBody(eventId, q, this.warnRatio);
    await this.insertAndEnqueue(
      endpoints.map((e) => ({ id: randomUUID(), eventId, userId, endpointId: e.id, generationId: null, target: "endpoint", event: "quota.warning", url: e.url, body })),
    );
  }

  private async insertAndEnqueue(ds: NewDelivery[]): Promise<number> {
    if (!ds.length) return 0;
    const ids = await this.deliveries.insertNew(ds);
    await this.scheduler.enqueue(ids.map((deliveryId) => ({ deliveryId, run: 0 })));
    return ids.length;
  }
}
