/**
 * Composition root: infrastructure → services → workers → http, each built once from the
 * one before; every opened resource closes through one cleanup stack, in reverse.
 */
import "reflect-metadata";
import type http from "node:http";
import type { Redis } from "ioredis";
import type { DataSource } from "typeorm";
import type { Services } from "./api/services";
import type { Clock } from "./common/clock";
import type { AppConfig } from "./config/config";
import type { GenerationRunner } from "./domain/generations/run/runner";
import type { SweeperService } from "./domain/generations/sweeper.service";
import { startMetricsServer } from "./http/metrics-server";
import type { HttpServer } from "./http/server";
import type { GenerationQueue } from "./jobs/queues";
import type { Logger } from "./observability/logger";
import type { Metrics } from "./observability/metrics";
import type { EventBus } from "./realtime/event-bus";
import { createApi } from "./app/api";
import { CleanupStack } from "./app/cleanup";
import { createInfrastructure } from "./app/infrastructure";
import { buildServices } from "./app/services";
import { startWorkers, type Workers } from "./app/workers";

export interface AppOptions {
  /** Serve the HTTP API (serve). */
  api: boolean;
  /** Run BullMQ workers in this process (serve without --no-worker, or worker). */
  workers: boolean;
  /** Worker-only processes expose /metrics, /healthz, /readyz on METRICS_PORT. */
  metricsServer?: boolean;
  /** Create the database if missing (npm start). */
  createDatabase?: boolean;
  onQuery?: (sql: string) => void;
  logger?: Logger;
  /** The time source for quota periods (tests move it to cross a period boundary). */
  clock?: Clock;
}

export interface App {
  config: AppConfig;
  ds: DataSource;
  redis: Redis;
  bus: EventBus;
  services: Services;
  queue: GenerationQueue;
  metrics: Metrics;
  log: Logger;
  http?: HttpServer;
  runner?: GenerationRunner;
  sweeper: SweeperService;
  /** Writes webhook deliveries lost to a crash and re-enqueues lost delivery jobs (the periodic sweep runs it). */
  reconcileWebhooks(graceMs?: number): Promise<{ written: number; requeued: number }>;
  /** Starts listening (API and/or metrics port); returns the API port when serving. */
  start(): Promise<number | undefined>;
  stop(): Promise<void>;
}

export async function createApp(config: AppConfig, opts: AppOptions): Promise<App> {
  const cleanup = new CleanupStack();
  try {
    const infra = await createInfrastructure(config, opts, cleanup);
    const svc = await buildServices(config, infra, { api: opts.api, clock: opts.clock }, cleanup);
    const workers: Workers | undefined = opts.workers ? await startWorkers(config, infra, svc, cleanup) : undefined;
    const httpServer = opts.api ? await createApi(config, infra, svc, cleanup) : undefined;
    const { ds, redis, bus, queue, metrics, log } = infra;
    return {
      config, ds, redis, bus, services: svc.services, queue, metrics, log, http: httpServer, runner: workers?.runner, sweeper: svc.sweeper,
      reconcileWebhooks: (graceMs?: number) => svc.webhookReconciler.reconcile(graceMs),
      async start() {
        if (opts.metricsServer) {
          const server: http.Server = await startMetricsServer(svc.probes, metrics, config.metricsPort, config.http.host);
          cleanup.defer(() => new Promise<void>((r) => server.close(() => r())));
        }
        return httpServer ? httpServer.listen() : undefined;
      },
      async stop() {
        // 1. stop accepting: HTTP drains, sockets close
        await httpServer?.close().catch((err) => log.error({ err }, "http close"));
        // 2. running jobs, and the API's in-process runs, get a grace period, then go back to the queue
        await Promise.all([workers?.close(config.http.shutdownGraceMs), svc.sync?.drain(config.http.shutdownGraceMs, () => svc.runner.abortAll())]);
        // 3. everything else, in the reverse order it was opened
        await cleanup.close();
      },
    };
  } catch (err) {
    await cleanup.close();
    throw err;
  }
}
