/** The BullMQ worker for webhook deliveries: maps attempt outcomes to BullMQ's retry semantics. */
import { UnrecoverableError, Worker, type ConnectionOptions, type Job } from "bullmq";
import type { WebhookDeliverer } from "../domain/webhooks/webhook-deliverer";
import { webhookRetryDelayMs } from "../domain/webhooks/webhook-events";
import type { Logger } from "../observability/logger";
import { WEBHOOK_BACKOFF_TYPE, WEBHOOKS_QUEUE, type WebhookJobData } from "./webhook-queue";

export interface WebhookWorkerSettings {
  connection: ConnectionOptions;
  prefix: string;
  concurrency: number;
  backoffBaseMs: number;
}

/** A failed attempt with attempts left: BullMQ retries it after the webhook backoff. */
class WebhookAttemptFailed extends Error {
  name = "WebhookAttemptFailed";
}

export function createWebhookWorker(deliverer: WebhookDeliverer, s: WebhookWorkerSettings, log: Logger): Worker<WebhookJobData> {
  const worker = new Worker<WebhookJobData>(
    WEBHOOKS_QUEUE,
    async (job: Job<WebhookJobData>) => {
      const outcome = await deliverer.attempt(job.data.deliveryId, job.attemptsMade, job.opts.attempts ?? 1);
      if (outcome.kind === "retry") throw new WebhookAttemptFailed(outcome.error);
      if (outcome.kind === "final") throw new UnrecoverableError(`${outcome.status}: ${outcome.error}`);
      return outcome.kind;
    },
    {
      connection: s.connection,
      prefix: s.prefix,
      concurrency: s.concurrency,
      settings: {
        // attemptsMade counts the attempt that just failed: 1 before the first retry.
        backoffStrategy: (attemptsMade: number, type?: string) => (type === WEBHOOK_BACKOFF_TYPE ? webhookRetryDelayMs(attemptsMade, s.backoffBaseMs) : s.backoffBaseMs),
      },
    },
  );
  worker.on("failed", (job, err) => {
    if (job && !(err instanceof WebhookAttemptFailed) && !(err instanceof UnrecoverableError)) log.error({ err, deliveryId: job.data.deliveryId }, "webhook job failed");
  });
  worker.on("error", (err) => log.error({ err }, "webhook worker error"));
  return worker;
}
