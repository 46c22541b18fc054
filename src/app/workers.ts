/**
 * Worker mode: the generation runner and the BullMQ workers (generations, maintenance,
 * rollups, webhook deliveries), the health probes and the anomaly checks.
 */
import type { Worker } from "bullmq";
import type { AppConfig } from "../config/config";
import { dirtyLookbackFor, RollupService } from "../domain/analytics/rollup.service";
import type { GenerationRunner } from "../domain/generations/run/runner";
import { WebhookConcurrency } from "../domain/webhooks/webhook-concurrency";
import { WebhookDeliverer } from "../domain/webhooks/webhook-deliverer";
import { WebhookSender } from "../domain/webhooks/webhook-sender";
import { createBatchWorker } from "../jobs/batch.processor";
import { createGenerationWorker } from "../jobs/generation.processor";
import { createMaintenanceWorker, scheduleMaintenance } from "../jobs/maintenance.processor";
import { createRollupWorker, scheduleRollups, unscheduleRollups } from "../jobs/rollup.processor";
import { createWebhookWorker } from "../jobs/webhook.processor";
import type { CleanupStack } from "./cleanup";
import type { Infrastructure } from "./infrastructure";
import type { AppServices } from "./services";

export interface Workers {
  runner: GenerationRunner;
  /** Waits for running jobs up to `graceMs`, then hands what still runs back to the queue. */
  close(graceMs: number): Promise<void>;
}

export async function startWorkers(config: AppConfig, infra: Infrastructure, svc: AppServices, cleanup: CleanupStack): Promise<Workers> {
  const { ds, redis, publisher, blobs, log, metrics } = infra;
  // The runner (and its cancel subscription) and the fairness leases are built with the services: in-process sync runs share them.
  const { runner, fairness, providers, monitoring, semantic } = svc;
  providers.startProbes(config.providers.healthIntervalMs);
  monitoring.startAnomalyChecks();
  const workers: Worker[] = [];
  const settings = { connection: redis, prefix: config.redis.prefix };
  workers.push(createGenerationWorker(runner, { ...settings, ...config.worker }, log, fairness, svc.queueControl));
  workers.push(createBatchWorker(svc.batches, settings, log));
  // Schedulers live in Redis: each worker process re-creates them every sweep interval if Redis lost them (a flush).
  const maintenanceSettings = { ...settings, sweepIntervalMs: config.sweeper.intervalMs, retentionDays: config.files.retentionDays };
  const maintenanceQueue = await scheduleMaintenance(maintenanceSettings, log);
  cleanup.defer(() => maintenanceQueue.close());
  workers.push(createMaintenanceWorker({ sweeper: svc.sweeper, blobs, purgeExpiredCache: () => semantic.purgeExpired(), reconcileWebhooks: () => svc.webhookReconciler.reconcile() }, maintenanceSettings, log));
  if (config.analytics.rollupIntervalMs > 0) {
    const rollupSettings = { ...settings, everyMs: config.analytics.rollupIntervalMs, checkEveryMs: config.sweeper.intervalMs };
    const rollupQueue = await scheduleRollups(rollupSettings, log);
    cleanup.defer(() => rollupQueue.close());
    workers.push(createRollupWorker(new RollupService(ds, { dirtyLookbackMs: dirtyLookbackFor(config.sweeper.maxAgeMs) }), rollupSettings, log));
  } else await unscheduleRollups(settings);
  const webhookSender = new WebhookSender(svc.addressPolicy, config.webhooks.timeoutMs);
  cleanup.defer(() => webhookSender.close());
  // One unreachable endpoint holds at most its cap of slots, across every worker; the rest wait parked.
  const webhookCaps = new WebhookConcurrency(publisher, config.redis.prefix, { perDestination: config.webhooks.endpointConcurrency, perUser: config.webhooks.userConcurrency, attemptTimeoutMs: config.webhooks.timeoutMs });
  workers.push(createWebhookWorker(new WebhookDeliverer(ds, webhookSender, svc.secretBox, config.webhooks.backoffBaseMs, log, (event, outcome) => metrics.webhookDeliveries.inc({ event, outcome })), { ...settings, ...config.webhooks }, log, webhookCaps));

  return {
    runner,
    async close(graceMs) {
      const grace = new Promise<"timeout">((r) => setTimeout(() => r("timeout"), graceMs).unref());
      const closing = Promise.all(workers.map((w) => w.close()));
      if ((await Promise.race([closing, grace])) === "timeout") {
        const n = runner.abortAll();
        log.warn({ handedBack: n }, "shutdown grace period over: running jobs handed back to the queue");
        await closing;
      }
    },
  };
}
