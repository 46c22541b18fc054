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
import type { Logger } from "../../observability/logger";
import type { WebhookDispatcher } from "./webhook-dispatcher";
import { TERMINAL_EVENTS } from "./webhook-events";
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

const NIL_UUID = "00000000-0000-0000-0000-000000000000";
const GENERATIONS = "generations";
const PENDING = "pending";

interface Position {
  /** Full-precision timestamptz text (a JS Date would drop the microseconds and re-read rows). */
  at: string;
  id: string;
}

export class WebhookReconciler {
  private readonly limits: ReconcilerLimits;

  constructor(
    private readonly ds: DataSource,
    private readonly dispatcher: WebhookDispatcher,
    private readonly scheduler: WebhookScheduler,
    private readonly log: Logger,
    limits: Partial<ReconcilerLimits> = {},
  ) {
    this.limits = { batch: 500, generationBatches: 20, pendingBatches: 4, lookbackMs: 86_400_000, ...limits };
  }

  /** @param graceMs how long after a transition (or a delivery's last change) before it counts as lost; the live path gets that long. */
  async reconcile(graceMs = 30_000): Promise<ReconcileResult> {
    const { written, scanned } = await this.writeMissing(graceMs);
    const requeued = await this.requeueLost(graceMs);
    if (written || requeued) this.log.warn({ written, requeued, scanned }, "webhook reconciliation recovered deliveries");
    return { written, requeued, scanned };
  }

  private async position(name: string): Promise<Position | null> {
    const [row] = await this.ds.query(`SELECT position_at::text AS at, position_id AS id FROM webhook_reconcile_cursors WHERE name = $1`, [name]);
    return row ?? null;
  }

  /** Terminal generations in (completed_at, id) order past the cursor, older than the grace. */
  private async writeMissing(graceMs: number): Promise<{ written: number; scanned: number }> {
    let written = 0;
    let scanned = 0;
    let pos = await this.position(GENERATIONS);
    for (let step = 0; step < this.limits.generationBatches; step++) {
      // A cursor older than the lookback (or none) starts at the lookback.
      const batch: { id: string; at: string }[] = await this.ds.query(
        `SELECT g.id, g.completed_at::text AS at FROM generations g
          WHERE g.completed_at IS NOT NULL
            AND (g.completed_at, g.id) > (
                  CASE WHEN $1::timestamptz >= now() - $5 * interval '1 millisecond' THEN $1::timestamptz ELSE now() - $5 * interval '1 millisecond' END,
                  CASE WHEN $1::timestamptz >= now() - $5 * interval '1 millisecond' THEN $2::uuid ELSE '${NIL_UUID}'::uuid END)
            AND g.completed_at < now() - $3 * interval '1 millisecond'
          ORDER BY g.completed_at, g.id LIMIT $4`,
        [pos?.at ?? null, pos?.id ?? NIL_UUID, graceMs, this.limits.batch, this.limits.lookbackMs],
      );
      if (!batch.length) break;
      scanned += batch.length;
      // Of those, the ones owed a delivery that have none: a callbackUrl, or an endpoint that
      // existed when the generation ended and is subscribed to its event.
      const missing: Record<string, unknown>[] = await this.ds.query(
        `SELECT g.* FROM generations g
          WHERE g.id = ANY($1::uuid[]) AND g.status IN ('SUCCEEDED','FAILED','CANCELLED')
            AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.generation_id = g.id)
            AND (g.callback_url IS NOT NULL OR EXISTS (
                  SELECT 1 FROM webhook_endpoints e
                   WHERE e.user_id = g.user_id AND e.deleted_at IS NULL AND e.created_at <= g.completed_at
                     AND ('generation.' || lower(g.status)) = ANY(e.events)))`,
        [batch.map((b) => b.id)],
      );
      if (missing.length)
        written += await this.dispatcher.writeTerminals(
          missing.map((r) => {
            const g = rowToEntity(this.ds, GenerationEntity, r);
            return { g, event: TERMINAL_EVENTS[g.status as "SUCCEEDED" | "FAILED" | "CANCELLED"] };
          }),
        );
      // Only after the batch is written: a sweep that dies here leaves the cursor behind it (re-read, never skipped).
      pos = batch[batch.length - 1];
      await this.ds.query(
        `INSERT INTO webhook_reconcile_cursors (name, position_at, position_id) VALUES ($1, $2::timestamptz, $3)
         ON CONFLICT (name) DO UPDATE SET position_at = EXCLUDED.position_at, position_id = EXCLUDED.position_id, updated_at = now()
          WHERE (webhook_reconcile_cursors.position_at, webhook_reconcile_cursors.position_id) < (EXCLUDED.position_at, EXCLUDED.position_id)`,
        [GENERATIONS, pos.at, pos.id],
      );
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
    let pos = await this.position(PENDING);
    for (let step = 0; step < this.limits.pendingBatches; step++) {
      const page: { id: string; runs: number; at: string }[] = await this.ds.query(
        `SELECT id, runs, updated_at::text AS at FROM webhook_deliveries
          WHERE status = 'PENDING' AND updated_at < now() - $1 * interval '1 millisecond'
            AND ($2::timestamptz IS NULL OR (updated_at, id) > ($2::timestamptz, $3::uuid))
          ORDER BY updated_at, id LIMIT $4`,
        [graceMs, pos?.at ?? null, pos?.id ?? NIL_UUID, this.limits.batch],
      );
      const states = await Promise.all(page.map((d) => this.scheduler.state(d.id, d.runs)));
      const lost = page.filter((_, i) => states[i] === "missing").map((d) => ({ deliveryId: d.id, run: d.runs }));
      await this.scheduler.enqueue(lost);
      requeued += lost.length;
      const end = page.length < this.limits.batch;
      pos = end ? null : page[page.length - 1];
      if (pos)
        await this.ds.query(
          `INSERT INTO webhook_reconcile_cursors (name, position_at, position_id) VALUES ($1, $2::timestamptz, $3)
           ON CONFLICT (name) DO UPDATE SET position_at = EXCLUDED.position_at, position_id = EXCLUDED.position_id, updated_at = now()`,
          [PENDING, pos.at, pos.id],
        );
      else await this.ds.query(`DELETE FROM webhook_reconcile_cursors WHERE name = $1`, [PENDING]);
      if (end) break;
    }
    return requeued;
  }
}
