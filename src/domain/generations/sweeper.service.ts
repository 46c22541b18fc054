/**
 * Postgres is the source of truth. The sweeper re-enqueues QUEUED/RUNNING generations
 * whose job is gone (Redis flushed, crash between insert and enqueue) or failed out of
 * BullMQ (stalled too often), and fails those past the maximum age. Safe to run on many
 * nodes at once: re-enqueueing is idempotent by job id and expiry is a conditional update.
 * A generation an API process runs itself (the fast sync path) has no job but a live lease
 * (in-process-runs.ts): it is left alone until the lease lapses. A generation in an open provider
 * batch (priority BATCH) has no job either: its batch's job runs it, and a batch whose job was
 * lost is what gets re-enqueued (BatchService.recover).
 */
import type { DataSource } from "typeorm";
import type { Priority } from "../../db/entities/generation.entity";
import type { Logger } from "../../observability/logger";
import type { Metrics } from "../../observability/metrics";
import type { GenerationEvents } from "./generation-events";
import type { GenerationScheduler } from "./scheduler";
import { GenerationStore } from "./generation.store";
import { republishLostTerminalEvents } from "./lost-terminal-events";
import type { InProcessRuns } from "./in-process-runs";

export interface SweeperConfig {
  graceMs: number;
  maxAgeMs: number;
  batchSize?: number;
}

export class SweeperService {
  private readonly store: GenerationStore;

  constructor(
    ds: DataSource,
    private readonly scheduler: GenerationScheduler & { requeue(id: string, priority: Priority): Promise<void> },
    private readonly bus: GenerationEvents,
    private readonly cfg: SweeperConfig,
    private readonly log: Logger,
    private readonly metrics: Metrics,
    /** The fast sync path's leases: a generation run in-process has no job while its lease lives. */
    private readonly inProcess?: Pick<InProcessRuns, "alive">,
    /** Provider batches: their members are left to them, and a batch whose job was lost is re-enqueued. */
    private readonly batches?: { inOpenBatch(ids: string[]): Promise<Set<string>>; recover(graceMs: number): Promise<number> },
  ) {
    this.store = new GenerationStore(ds);
  }

  async sweep(): Promise<{ requeued: number; expired: number; batches?: number }> {
    const expired = await this.expireOld();
    // A coalesced follower has no job of its own: its group's job (the leader's id) is what must exist.
    const rows = await this.store.staleJobs(this.cfg.graceMs, this.cfg.batchSize ?? 500);
    const inBatch = this.batches ? await this.batches.inOpenBatch(rows.map((r) => r.id)) : new Set<string>();
    let requeued = 0;
    for (const r of rows) {
      if (inBatch.has(r.id)) continue;
      const state = await this.scheduler.state(r.id);
      // Run in-process by an API node (the fast sync path): no job while its lease lives.
      if (state === "missing" && (await this.inProcess?.alive(r.id))) continue;
      if (state === "missing" || state === "failed" || state === "completed") {
        await this.scheduler.requeue(r.id, r.priority);
        requeued++;
        this.log.warn({ generationId: r.id, jobState: state }, "sweeper re-enqueued a generation whose job was lost");
      }
    }
    if (requeued) this.metrics.sweeperRecovered.inc({ action: "requeued" }, requeued);
    // Terminal states whose process died between commit and publish: their subscribers still wait.
    const republished = await republishLostTerminalEvents(this.store, this.bus, this.cfg.graceMs, this.cfg.batchSize ?? 500);
    if (republished) {
      this.metrics.sweeperRecovered.inc({ action: "terminal_event_published" }, republished);
      this.log.warn({ republished }, "sweeper published terminal events their runs never published");
    }
    const batches = this.batches ? await this.batches.recover(this.cfg.graceMs) : 0;
    if (batches) this.metrics.sweeperRecovered.inc({ action: "batch_requeued" }, batches);
    return { requeued, expired, ...(this.batches ? { batches } : {}) };
  }

  private async expireOld(): Promise<number> {
    const expired = await this.store.expire({ olderThanMs: this.cfg.maxAgeMs });
    for (const g of expired) {
      await this.scheduler.remove(g.id).catch(() => false);
      await this.bus.publishGenerationEvent(g, { type: "FAILED", message: g.errorMessage ?? undefined });
    }
    if (expired.length) this.metrics.sweeperRecovered.inc({ action: "expired" }, expired.length);
    return expired.length;
  }
}
