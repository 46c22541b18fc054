/** Periodic chores on one repeatable BullMQ queue, so each runs once per interval across all nodes (schedulers re-created after a Redis flush). */
import { Worker, type ConnectionOptions } from "bullmq";
import type { SweeperService } from "../domain/generations/sweeper.service";
import type { Logger } from "../observability/logger";
import type { BlobStore } from "../storage/blob-store";
import { ScheduledQueue } from "./kept-schedulers";
import { MAINTENANCE_QUEUE } from "./queues";
import { queuePrefix } from "./queue-prefix";

export interface MaintenanceSettings {
  connection: ConnectionOptions;
  prefix: string;
  sweepIntervalMs: number;
  retentionDays: number;
  retentionIntervalMs?: number;
}

/**
 * Creates the sweep and retention schedulers, and keeps them: every sweep interval this process
 * checks they still exist in Redis and re-creates them after a flush (see {@link ScheduledQueue}).
 */
export async function scheduleMaintenance(s: MaintenanceSettings, log?: Logger): Promise<ScheduledQueue> {
  const opts = { removeOnComplete: true, removeOnFail: 100 };
  const q = new ScheduledQueue(MAINTENANCE_QUEUE, { connection: s.connection, prefix: queuePrefix(s.prefix, MAINTENANCE_QUEUE, s.connection) }, [
    { id: "sweep", everyMs: s.sweepIntervalMs, opts },
    { id: "retention", everyMs: s.retentionIntervalMs ?? 3_600_000, opts },
  ], log);
  await q.upsertAll();
  return q.keep(s.sweepIntervalMs);
}

export function createMaintenanceWorker(
  deps: { sweeper: SweeperService; blobs: BlobStore; purgeExpiredCache: () => Promise<number>; reconcileWebhooks?: () => Promise<unknown> },
  s: MaintenanceSettings,
  log: Logger,
): Worker {
  const worker = new Worker(
    MAINTENANCE_QUEUE,
    async (job) => {
      if (job.name === "sweep") {
        const swept = await deps.sweeper.sweep();
        const webhooks = await deps.reconcileWebhooks?.().catch((err) => log.error({ err }, "webhook reconciliation failed"));
        return { ...swept, webhooks };
      }
      if (job.name === "retention") {
        const deleted = await deps.blobs.deleteOlderThan(new Date(Date.now() - s.retentionDays * 86_400_000));
        const expiredCacheEntries = await deps.purgeExpiredCache();
        if (deleted || expiredCacheEntries) log.info({ deleted, expiredCacheEntries }, "retention removed old media and expired semantic cache entries");
        return { deleted, expiredCacheEntries };
      }
      return undefined;
    },
    { connection: s.connection, prefix: queuePrefix(s.prefix, MAINTENANCE_QUEUE, s.connection), concurrency: 1 },
  );
  worker.on("error", (err) => log.error({ err }, "maintenance worker error"));
  return worker;
}
