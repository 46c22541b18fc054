/**
 * Nothing is lost (run by the periodic sweep, on any number of workers at once): a terminal
 * generation whose deliveries were never written (the process died between the transition
 * and the insert) gets them now, and a PENDING delivery whose job is gone (enqueue failed,
 * Redis flushed) is enqueued again.
 *
 * Both are walks by a cursor kept in `webhook_reconcile_cursors` (this module owns the
 * table), so every sweep makes progress whatever lies behind it: terminal generations that
 * need no delivery (no endpoint subscribed to their event, endpoints created after them) are
 * passed once, not re-read by every sweep. Two workers sweeping at once may look at the same
 * rows; the unique index on deliveries (generation, target, endpoint) and the job id per
 * delivery run keep the outcome exactly once, and the generation cursor only moves forward.
 */
import type { DataSource } from "typeorm";
import { GenerationEntity } from "../../db/entities/generation.entity";
import { rowToEntity } from "../../db/row-mapper";
import { GenerationStore } from "../generations/generation.store";
import type { Logger } from "../../observability/logger";
import { WebhookDeliveryStore } from "./webhook-delivery.store";
import type { WebhookDispatcher } from "./webhook-dispatcher";
import { TERMINAL_EVENTS } from "./webhook-events";
import { WebhookReconcileStore } from "./webhook-reconcile.store";
import type { WebhookScheduler } from "./webhook-scheduler";

export interface ReconcileResult {
  /** Deliveries written for terminal generations that had none. */
  written: number;
  /** PENDING deliveries whose job was gone, enqueued again. */
  requeued: number;
  /** Terminal generations the cursor passed in this sweep. */
  scanned: number;
}

export interface ReconcilerLimits {
  /** Rows read per step of a walk, default 500. */
  batch: number;
  /** Steps of the generation walk per sweep (the backlog left is taken by the next sweep), default 20. */
  generationBatches: number;
  /** Steps of the pending-delivery walk per sweep, default 4. */
  pendingBatches: number;
  /** How far back the generation walk starts (no cursor yet, or one older than this), default 1 day. */
  lookbackMs: number;
}

const GENERATIONS = "generations";
const PENDING = "pending";

export class WebhookReconciler {
  private readonly limits: ReconcilerLimits;
  private readonly store: WebhookReconcileStore;
  private readonly deliveries: WebhookDeliveryStore;
  private readonly generations: GenerationStore;

  constructor(
    private readonly ds: DataSource,
    private readonly dispatcher: WebhookDispatcher,
    private readonly scheduler: WebhookScheduler,
    private readonly log: Logger,
    limits: Partial<ReconcilerLimits> = {},
  ) {
    this.limits = { batch: 500, generationBatches: 20, pendingBatches: 4, lookbackMs: 86_400_000, ...limits };
    this.store = new WebhookReconcileStore(ds);
    this.deliveries = new WebhookDeliveryStore(ds);
    this.generations = new GenerationStore(ds);
  }

  /** @param graceMs how long after a transition (or a delivery's last change) before it counts as lost; the live path gets that long. */
  async reconcile(graceMs = 30_000): Promise<ReconcileResult> {
    const { written, scanned } = await this.writeMissing(graceMs);
    const requeued = await this.requeueLost(graceMs);
    if (written || requeued) this.log.warn({ written, requeued, scanned }, "webhook reconciliation recovered deliveries");
    return { written, requeued, scanned };
  }

  /** Terminal generations in (completed_at, id) order past the cursor, older than the grace. */
  private async writeMissing(graceMs: number): Promise<{ written: number; scanned: number }> {
    let written = 0;
    let scanned = 0;
    let pos = await this.store.position(GENERATIONS);
    for (let step = 0; step < this.limits.generationBatches; step++) {
      const batch = await this.generations.terminalsAfter(pos, graceMs, this.limits.batch, this.limits.lookbackMs);
      if (!batch.length) break;
      scanned += batch.length;
      // Of those, the ones owed a delivery that have none.
      const missing = await this.deliveries.owedDeliveries(batch.map((b) => b.id));
      if (missing.length)
        written += await this.dispatcher.writeTerminals(
          missing.map((r) => {
            const g = rowToEntity(this.ds, GenerationEntity, r);
            return { g, event: TERMINAL_EVENTS[g.status as "SUCCEEDED" | "FAILED" | "CANCELLED"] };
          }),
        );
      // Only after the batch is written: a sweep that dies here leaves the cursor behind it (re-read, never skipped).
      pos = batch[batch.length - 1];
      await this.store.setPosition(GENERATIONS, pos, true);
      if (batch.length < this.limits.batch) break;
    }
    return { written, scanned };
  }

  /**
   * PENDING deliveries in (updated_at, id) order past the cursor; at the end of the list the
   * walk starts over. A delivery's updated_at only moves forward, so every one whose job was
   * lost (nothing updates it any more) is reached within one cycle.
   */
  private async requeueLost(graceMs: number): Promise<number> {
    let requeued = 0;
    let pos = await this.store.position(PENDING);
    for (let step = 0; step < this.limits.pendingBatches; step++) {
      const page = await this.deliveries.pendingPage(graceMs, pos, this.limits.batch);
      const states = await Promise.all(page.map((d) => this.scheduler.state(d.id, d.runs)));
      const lost = page.filter((_, i) => states[i] === "missing").map((d) => ({ deliveryId: d.id, run: d.runs }));
      await this.scheduler.enqueue(lost);
      requeued += lost.length;
      const end = page.length < this.limits.batch;
      pos = end ? null : page[page.length - 1];
      if (pos) await this.store.setPosition(PENDING, pos, false);
      else await this.store.clearPosition(PENDING);
      if (end) break;
    }
    return requeued;
  }
}
