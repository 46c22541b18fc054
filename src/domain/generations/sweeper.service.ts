/**
 * Postgres is the source of truth. The sweeper re-enqueues QUEUED/RUNNING generations
 * whose job is gone (Redis flushed, crash between insert and enqueue) or failed out of
 * BullMQ (stalled too often), and fails those past the maximum age. Safe to run on many
 * nodes at once: re-enqueueing is idempotent by job id and expiry is a conditional update.
 */
import type { DataSource } from "typeorm";
import { GenerationEntity, type Priority } from "../../db/entities/generation.entity";
import { rowToEntity } from "../../db/row-mapper";
import type { Logger } from "../../observability/logger";
import type { Metrics } from "../../observability/metrics";
import type { EventBus } from "../../realtime/event-bus";
import type { GenerationScheduler } from "./scheduler";
import { RELEASE_AND_SELECT } from "../quotas/release.sql";
import { republishLostTerminalEvents } from "./lost-terminal-events";

export interface SweeperConfig {
  graceMs: number;
  maxAgeMs: number;
  batchSize?: number;
}

export class SweeperService {
  constructor(
    private readonly ds: DataSource,
    private readonly scheduler: GenerationScheduler & { requeue(id: string, priority: Priority): Promise<void> },
    private readonly bus: EventBus,
    private readonly cfg: SweeperConfig,
    private readonly log: Logger,
    private readonly metrics: Metrics,
  ) {}

  async sweep(): Promise<{ requeued: number; expired: number }> {
    const expired = await this.expireOld();
    // A coalesced follower has no job of its own: its group's job (the leader's id) is what must exist.
    const rows: { id: string; priority: Priority }[] = await this.ds.query(
      `SELECT DISTINCT ON (COALESCE(group_id, id)) COALESCE(group_id, id) AS id, priority FROM generations
        WHERE status IN ('QUEUED','RUNNING') AND updated_at < now() - make_interval(secs => $1::double precision / 1000)
        ORDER BY COALESCE(group_id, id), updated_at LIMIT $2`,
      [this.cfg.graceMs, this.cfg.batchSize ?? 500],
    );
    let requeued = 0;
    for (const r of rows) {
      const state = await this.scheduler.state(r.id);
      if (state === "missing" || state === "failed" || state === "completed") {
        await this.scheduler.requeue(r.id, r.priority);
        requeued++;
        this.log.warn({ generationId: r.id, jobState: state }, "sweeper re-enqueued a generation whose job was lost");
      }
    }
    if (requeued) this.metrics.sweeperRecovered.inc({ action: "requeued" }, requeued);
    // Terminal states whose process died between commit and publish: their subscribers still wait.
    const republished = await republishLostTerminalEvents(this.ds, this.bus, this.cfg.graceMs, this.cfg.batchSize ?? 500);
    if (republished) {
      this.metrics.sweeperRecovered.inc({ action: "terminal_event_published" }, republished);
      this.log.warn({ republished }, "sweeper published terminal events their runs never published");
    }
    return { requeued, expired };
  }

  private async expireOld(): Promise<number> {
    const rows: Record<string, unknown>[] = await this.ds.query(
      `WITH g AS (
         UPDATE generations SET status = 'FAILED', error_code = 'EXPIRED',
                error_message = 'The generation did not finish within the maximum age and was given up',
                completed_at = now(), updated_at = now()
          WHERE status IN ('QUEUED','RUNNING') AND created_at < now() - make_interval(secs => $1::double precision / 1000)
          RETURNING *
       ) ${RELEASE_AND_SELECT}`,
      [this.cfg.maxAgeMs],
    );
    for (const row of rows) {
      const g = rowToEntity(this.ds, GenerationEntity, row);
      await this.scheduler.remove(g.id).catch(() => false);
      await this.bus.publishGenerationEvent(g, { type: "FAILED", message: g.errorMessage ?? undefined });
    }
    if (rows.length) this.metrics.sweeperRecovered.inc({ action: "expired" }, rows.length);
    return rows.length;
  }
}
