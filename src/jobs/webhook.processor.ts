/**
 * The BullMQ worker for webhook deliveries: takes a slot under the per-destination and
 * per-user caps (or parks the job in delayed until one frees), then maps attempt outcomes to
 * BullMQ's retry semantics.
 */
import { DelayedError, Job, UnrecoverableError, Worker, type ConnectionOptions } from "bullmq";
import type { CapHit, WebhookConcurrency } from "../domain/webhooks/webhook-concurrency";
import { deliveryDestination, type WebhookDeliverer } from "../domain/webhooks/webhook-deliverer";
import { webhookRetryDelayMs } from "../domain/webhooks/webhook-events";
import type { Logger } from "../observability/logger";
import { WEBHOOK_BACKOFF_TYPE, WEBHOOKS_QUEUE, type WebhookJobData } from "./webhook-queue";
import { queuePrefix } from "./queue-prefix";

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

export function createWebhookWorker(deliverer: WebhookDeliverer, s: WebhookWorkerSettings, log: Logger, caps?: WebhookConcurrency): Worker<WebhookJobData> {
  /** The oldest job parked under that cap that is still delayed goes back to waiting (others ran meanwhile). */
  const promoteParked = async (userId: string, destination: string, hit: CapHit): Promise<void> => {
    for (let id = await caps!.unpark(userId, destination, hit); id; id = await caps!.unpark(userId, destination, hit)) {
      const job = await Job.fromId<WebhookJobData>(worker as never, id);
      if (job && (await job.isDelayed()) && (await job.promote().then(() => true, () => false))) return;
    }
  };

  const worker: Worker<WebhookJobData> = new Worker<WebhookJobData>(
    WEBHOOKS_QUEUE,
    async (job: Job<WebhookJobData>, token?: string) => {
      const delivery = await deliverer.load(job.data.deliveryId);
      if (!delivery) return "skipped";
      const limited = caps?.enabled ? caps : undefined;
      const destination = deliveryDestination(delivery);
      if (limited) {
        const full = await limited.acquire(delivery.userId, destination, job.id!);
        if (full) {
          // Parked, without using up an attempt: promoted when a delivery to the same
          // destination (or of the same user) ends, or tried again after the safety delay.
          await job.moveToDelayed(Date.now() + full.safetyDelayMs, token);
          if (await limited.park(delivery.userId, destination, job.id!, full.hit)) await promoteParked(delivery.userId, destination, full.hit); // a slot freed meanwhile
          throw new DelayedError();
        }
      }
      let outcome;
      try {
        outcome = await deliverer.attempt(delivery, job.attemptsMade, job.opts.attempts ?? 1);
      } finally {
        if (limited) {
          await limited.release(delivery.userId, destination, job.id!).catch(() => undefined);
          await promoteParked(delivery.userId, destination, "destination").catch(() => undefined);
          await promoteParked(delivery.userId, destination, "user").catch(() => undefined);
        }
      }
      if (outcome.kind === "retry") throw new WebhookAttemptFailed(outcome.error);
      if (outcome.kind === "final") throw new UnrecoverableError(`${outcome.status}: ${outcome.error}`);
      return outcome.kind;
    },
    {
      connection: s.connection,
      prefix: queuePrefix(s.prefix, WEBHOOKS_QUEUE, s.connection),
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
