/** Periodic chores on one repeatable BullMQ queue, so each runs once per interval across all nodes. */
import { Queue, Worker, type ConnectionOptions } from "bullmq";
import type { SweeperService } from "../domain/generations/sweeper.service";
import type { Logger } from "../observability/logger";
import type { BlobStore } from "../storage/blob-store";
import { MAINTENANCE_QUEUE } from "./queues";

export interface MaintenanceSettings {
  connection: ConnectionOptions;
  prefix: string;
  sweepIntervalMs: number;
  retentionDays: number;
  retentionIntervalMs?: number;
}

export async function scheduleMaintenance(s: MaintenanceSettings): Promise<Queue> {
  const q = new Queue(MAINTENANCE_QUEUE, { connection: s.connection, prefix: s.prefix });
  const opts = { removeOnComplete: true, removeOnFail: 100 };
  await q.upsertJobScheduler("sweep", { every: s.sweepIntervalMs }, { name: "sweep", opts });
  await q.upsertJobScheduler("retention", { every: s.retentionIntervalMs ?? 3_600_000 }, { name: "retention", opts });
  return q;
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
    { connection: s.connection, prefix: s.prefix, concurrency: 1 },
  );
  worker.on("error", (err) => log.error({ err }, "maintenance worker error"));
  return worker;
}
