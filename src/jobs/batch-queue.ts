/**
 * The `provider-batches` queue (domain/batches/): a job submits a collected batch (delayed by
 * its collection window, or at once when it is full), another polls a submitted batch, moved
 * back to delayed between checks. Job ids name the batch, so adding a job that exists is a no-op.
 */
import { Queue, type ConnectionOptions, type JobsOptions } from "bullmq";
import type { BatchScheduler } from "../domain/batches/batch.service";
import { queuePrefix } from "./queue-prefix";

export const BATCHES_QUEUE = "provider-batches";

export interface BatchJobData {
  batchId: string;
}

export interface BatchQueueSettings {
  connection: ConnectionOptions;
  prefix: string;
}

/** Submission attempts (a retryable provider error, no key free) before its members fail. */
export const SUBMIT_ATTEMPTS = 5;

/** BullMQ job ids may not contain ":". */
export const batchJobId = (kind: "collect" | "submit" | "poll", batchId: string): string => `${kind}-${batchId}`;

const OPTS: JobsOptions = { removeOnComplete: true, removeOnFail: true };

export class BatchQueue implements BatchScheduler {
  readonly queue: Queue<BatchJobData>;

  constructor(s: BatchQueueSettings) {
    this.queue = new Queue<BatchJobData>(BATCHES_QUEUE, { connection: s.connection, prefix: queuePrefix(s.prefix, BATCHES_QUEUE, s.connection) });
    // A queue with no 'error' listener throws when Redis goes away, taking the process down; it reconnects by itself.
    this.queue.on("error", () => undefined);
  }

  async submitLater(batchId: string, delayMs: number): Promise<void> {
    await this.queue.add("submit", { batchId }, { ...OPTS, jobId: batchJobId("collect", batchId), delay: delayMs, attempts: SUBMIT_ATTEMPTS, backoff: { type: "exponential", delay: 1000 } });
  }

  async submitNow(batchId: string): Promise<boolean> {
    return this.addIfMissing("submit", batchId, { attempts: SUBMIT_ATTEMPTS, backoff: { type: "exponential", delay: 1000 } });
  }

  async pollIn(batchId: string, delayMs: number): Promise<boolean> {
    return this.addIfMissing("poll", batchId, { delay: delayMs });
  }

  private async addIfMissing(kind: "submit" | "poll", batchId: string, opts: JobsOptions): Promise<boolean> {
    const jobId = batchJobId(kind, batchId);
    if ((await this.queue.getJobState(jobId)) !== "unknown") return false;
    await this.queue.add(kind, { batchId }, { ...OPTS, ...opts, jobId });
    return true;
  }

  close(): Promise<void> {
    return this.queue.close();
  }
}
