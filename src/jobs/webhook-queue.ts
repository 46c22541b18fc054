/** The `webhooks` queue's producer side: one job per run of delivery attempts. */
import { Queue, type ConnectionOptions } from "bullmq";
import type { WebhookScheduler } from "../domain/webhooks/webhook-scheduler";
import { queuePrefix } from "./queue-prefix";

export const WEBHOOKS_QUEUE = "webhooks";
/** Custom backoff type: base × 2^n before retry n (see webhookRetryDelayMs). */
export const WEBHOOK_BACKOFF_TYPE = "webhook";

export interface WebhookJobData {
  deliveryId: string;
}

export interface WebhookQueueSettings {
  connection: ConnectionOptions;
  prefix: string;
  /** WEBHOOK_MAX_ATTEMPTS: attempts per run. */
  maxAttempts: number;
}

/** BullMQ job ids may not contain ":"; a redelivery is a new run, hence a new job. */
export const webhookJobId = (deliveryId: string, run: number): string => `${deliveryId}-${run}`;

export class WebhookQueue implements WebhookScheduler {
  readonly queue: Queue<WebhookJobData>;

  constructor(private readonly s: WebhookQueueSettings) {
    this.queue = new Queue<WebhookJobData>(WEBHOOKS_QUEUE, { connection: s.connection, prefix: queuePrefix(s.prefix, WEBHOOKS_QUEUE, s.connection) });
    // A queue with no 'error' listener throws when Redis goes away, taking the process down; it reconnects by itself.
    this.queue.on("error", () => undefined);
  }

  async enqueue(runs: { deliveryId: string; run: number }[]): Promise<void> {
    if (!runs.length) return;
    await this.queue.addBulk(
      runs.map(({ deliveryId, run }) => ({
        name: "deliver",
        data: { deliveryId },
        opts: {
          jobId: webhookJobId(deliveryId, run),
          attempts: this.s.maxAttempts,
          backoff: { type: WEBHOOK_BACKOFF_TYPE },
          removeOnComplete: true,
          removeOnFail: { age: 24 * 3600 }, // the attempts are in Postgres
        },
      })),
    );
  }

  async state(deliveryId: string, run: number): Promise<"waiting" | "active" | "delayed" | "missing" | "finished"> {
    const s = await this.queue.getJobState(webhookJobId(deliveryId, run));
    if (s === "unknown") return "missing";
    if (s === "waiting" || s === "prioritized" || s === "waiting-children") return "waiting";
    if (s === "active" || s === "delayed") return s;
    return "finished";
  }

  async promote(deliveryId: string, run: number): Promise<boolean> {
    const job = await this.queue.getJob(webhookJobId(deliveryId, run));
    if (!job || !(await job.isDelayed())) return false;
    await job.promote();
    return true;
  }

  close(): Promise<void> {
    return this.queue.close();
  }
}
