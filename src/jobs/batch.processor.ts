/** The `provider-batches` worker: submits collected batches and polls submitted ones (a poll job waits in delayed between checks). */
import { DelayedError, Worker, type ConnectionOptions, type Job } from "bullmq";
import type { BatchService } from "../domain/batches/batch.service";
import type { Logger } from "../observability/logger";
import { BATCHES_QUEUE, type BatchJobData } from "./batch-queue";
import { queuePrefix } from "./queue-prefix";

export interface BatchWorkerSettings {
  connection: ConnectionOptions;
  prefix: string;
}

export function createBatchWorker(batches: BatchService, s: BatchWorkerSettings, log: Logger): Worker<BatchJobData> {
  const worker = new Worker<BatchJobData>(
    BATCHES_QUEUE,
    async (job: Job<BatchJobData>, token?: string) => {
      if (job.name === "submit") return batches.submit(job.data.batchId, job.attemptsMade + 1 >= (job.opts.attempts ?? 1));
      if (job.name !== "poll") return undefined;
      const next = await batches.poll(job.data.batchId);
      if (next.againMs === undefined) return undefined;
      await job.moveToDelayed(Date.now() + next.againMs, token);
      throw new DelayedError();
    },
    { connection: s.connection, prefix: queuePrefix(s.prefix, BATCHES_QUEUE, s.connection), concurrency: 4 },
  );
  worker.on("failed", (job, err) => log.warn({ err, batchId: job?.data.batchId, job: job?.name }, "provider batch job failed"));
  worker.on("error", (err) => log.error({ err }, "provider batch worker error"));
  return worker;
}
