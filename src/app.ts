/**
 * Composition root: builds config-driven infrastructure and services once, starts the
 * API and/or the workers, and shuts everything down in order.
 */
import "reflect-metadata";
import { randomBytes } from "node:crypto";
import http from "node:http";
import type { Redis } from "ioredis";
import { RedisPubSub } from "graphql-redis-subscriptions";
import type { Worker } from "bullmq";
import type { DataSource } from "typeorm";
import { buildAppSchema } from "./api/schema";
import { createLoaders } from "./api/loaders/loaders";
import type { Services } from "./api/services";
import type { AppConfig } from "./config/config";
import { ApiKeyService } from "./domain/auth/api-key.service";
import { AuthThrottle } from "./domain/auth/auth-throttle";
import { GenerationRunner } from "./domain/generations/generation-runner";
import { GenerationService } from "./domain/generations/generation.service";
import { SweeperService } from "./domain/generations/sweeper.service";
import { createHttpServer, listenOn, type HttpServer } from "./http/server";
import { probesHandler, type Probes } from "./http/probes";
import { sendJson } from "./http/http-utils";
import { assertMigrated, connectPostgres, connectRedis } from "./infra";
import { createGenerationWorker } from "./jobs/generation.processor";
import { createMaintenanceWorker, scheduleMaintenance } from "./jobs/maintenance.processor";
import { GenerationQueue } from "./jobs/queues";
import { createLogger, wantsPrettyLogs, type Logger } from "./observability/logger";
import { startTracing } from "./observability/tracing";
import { tracedProvider } from "./providers/traced-provider";
import { Monitoring } from "./domain/monitoring/monitoring";
import { CIRCUIT_GAUGE, sampleCircuits } from "./domain/monitoring/circuit-metrics";
import { logFailedGenerations } from "./domain/monitoring/generation-log";
import { createMetrics, type Metrics } from "./observability/metrics";
import { buildProviders } from "./providers/setup";
import { AlertsService } from "./domain/providers/alerts.service";
import { KeyPool } from "./domain/providers/key-pool";
import { ProviderService } from "./domain/providers/provider.service";
import { Router } from "./domain/routing/router";
import { CircuitBreakers } from "./domain/resilience/circuit-breaker";
import { KeyLimits } from "./domain/providers/key-limits";
import { UserFairness } from "./domain/resilience/user-fairness";
import { SimulatedFaults } from "./domain/providers/simulated-faults";
import { EmbeddingBatcher } from "./domain/generations/embedding-batcher";
import { ProviderRegistry } from "./providers/registry";
import { EventBus } from "./realtime/event-bus";
import { Topic } from "./realtime/topics";
import type { BlobStore } from "./storage/blob-store";
import { PostgresBlobStore } from "./storage/postgres-blob.store";
import { S3BlobStore } from "./storage/s3-blob-store";
import { pendingMigrations } from "./db/data-source";
import { QuotaService } from "./domain/quotas/quota.service";
import { ExactCacheService } from "./domain/cache/exact-cache.service";
import { SemanticCacheService } from "./domain/cache/semantic-cache.service";
import { CachePlanner } from "./domain/cache/cache-planner";
import { RateLimits } from "./domain/quotas/rate-limits";
import { Coalescer } from "./domain/cache/coalescer";
import { AddressPolicy } from "./domain/webhooks/address-policy";
import { HostResolver } from "./domain/webhooks/host-resolver";
import { SecretBox } from "./domain/webhooks/secret-box";
import { WebhookConcurrency } from "./domain/webhooks/webhook-concurrency";
import { WebhookDeliverer } from "./domain/webhooks/webhook-deliverer";
import { WebhookDispatcher } from "./domain/webhooks/webhook-dispatcher";
import { WebhookReconciler } from "./domain/webhooks/webhook-reconciler";
import { WebhookSender } from "./domain/webhooks/webhook-sender";
import { WebhookService } from "./domain/webhooks/webhook.service";
import { WebhookQueue } from "./jobs/webhook-queue";
import { createWebhookWorker } from "./jobs/webhook.processor";
import { systemClock, type Clock } from "./common/clock";
import { AnalyticsService } from "./domain/analytics/analytics.service";
import { RollupService } from "./domain/analytics/rollup.service";
import { createRollupWorker, scheduleRollups, unscheduleRollups } from "./jobs/rollup.processor";

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

async function filesSecret(ds: DataSource, configured?: string): Promise<string> {
  if (configured) return configured;
  await ds.query(`INSERT INTO settings (key, value) VALUES ('files_signing_secret', $1) ON CONFLICT (key) DO NOTHING`, [randomBytes(32).toString("hex")]);
  const rows = await ds.query(`SELECT value FROM settings WHERE key = 'files_signing_secret'`);
  return rows[0].value;
}

async function createBlobStore(config: AppConfig, ds: DataSource): Promise<BlobStore> {
  if (config.files.store === "postgres") return new PostgresBlobStore(ds);
  const s3 = new S3BlobStore({ ...config.files.s3, keyPrefix: "media/" });
  await s3.ensureBucket();
  return s3;
}

export async function createApp(config: AppConfig, opts: AppOptions): Promise<App> {
  const log = opts.logger ?? createLogger(config.log.level, {}, { traceIds: !!config.tracing.endpoint, pretty: wantsPrettyLogs(config.env) });
  const metrics = createMetrics({ defaultMetrics: true });
  const ds = await connectPostgres({ url: config.db.url, poolSize: config.db.poolSize, create: !!opts.createDatabase, onQuery: opts.onQuery });
  const cleanup: (() => Promise<unknown>)[] = [() => ds.destroy()];
  // Tracing (OTEL_EXPORTER_OTLP_ENDPOINT) stops last: what the shutdown itself traced is flushed.
  if (config.tracing.endpoint) cleanup.push(await startTracing({ ...config.tracing, endpoint: config.tracing.endpoint }));
  try {
    await assertMigrated(ds);
    // Analytics may read from a replica; everything else uses the primary.
    const readDs = config.db.readUrl ? await connectPostgres({ url: config.db.readUrl, poolSize: config.db.poolSize, create: false }) : ds;
    if (readDs !== ds) cleanup.unshift(() => readDs.destroy());
    const redis = await connectRedis(config.redis.url, "switchboard");
    cleanup.unshift(() => redis.quit());
    const subscriber = await connectRedis(config.redis.url, "switchboard-sub");
    cleanup.unshift(() => subscriber.quit());
    // Events, breakers, key pools and fairness leases go out on their own auto-pipelined connection:
    // concurrent small commands share one write.
    const publisher = await connectRedis(config.redis.url, "switchboard-pub", { autoPipelining: true });
    cleanup.unshift(() => publisher.quit());
    const pubsub = new RedisPubSub({ publisher, subscriber });
    const bus = new EventBus(pubsub, publisher, config.redis.prefix);
    const faults = new SimulatedFaults(redis, config.redis.prefix);
    await faults.start();
    cleanup.unshift(async () => faults.stop());
    const setup = buildProviders(config.providers, config.http.publicUrl, (id, model) => faults.get(id, model));
    for (const w of setup.warnings) log.warn(w);
    const registry = new ProviderRegistry(config.tracing.endpoint ? setup.providers.map(tracedProvider) : setup.providers);
    const alerts = new AlertsService(ds, bus);
    const keyPool = new KeyPool(ds, publisher, bus, config.redis.prefix, config.providers, alerts, log);
    await keyPool.start();
    cleanup.unshift(async () => keyPool.stop());
    const providers = new ProviderService(registry, setup, keyPool, redis, config.redis.prefix, log);
    cleanup.unshift(async () => providers.stop());
    registry.setAvailability((id) => providers.configured(id));
    const r = config.resilience;
    const breakers = new CircuitBreakers(publisher, ds, bus, config.redis.prefix, {
      defaults: { failureThreshold: r.failureThreshold, failureRate: r.failureRate, minCalls: r.minCalls, windowMs: r.windowMs, resetMs: r.resetMs, halfOpenMax: r.halfOpenMax, perModel: false },
      overrides: { ...Object.fromEntries(r.perModelProviders.map((p) => [p, { perModel: true }])), ...setup.circuits },
    }, log, (provider, model, state) => {
      if (!model) metrics.circuitState.set({ provider }, CIRCUIT_GAUGE[state]);
    });
    await breakers.start();
    cleanup.unshift(async () => breakers.stop());
    await sampleCircuits(breakers, registry, metrics); // every configured circuit has a value from start
    const keyLimits = new KeyLimits(publisher, config.redis.prefix, r);
    const router = new Router(registry, {
      aliases: setup.aliases, tierModels: setup.tierModels, maxCandidates: config.providers.maxCandidates,
      unavailableReason: (id) => providers.unavailableReason(id),
    });
    const blobs = await createBlobStore(config, ds);
    const queue = new GenerationQueue({ connection: redis, prefix: config.redis.prefix, attempts: config.worker.attempts });
    cleanup.unshift(() => queue.close());
    const apiKeys = new ApiKeyService(ds, bus, config.auth.cacheTtlMs, {
      throttle: new AuthThrottle(publisher, config.redis.prefix, config.auth.unauthenticatedPerMinute),
      unknownPrefixTtlMs: config.auth.unknownPrefixTtlMs,
    });
    let sampledDepth = { at: 0, n: 0 };
    const quotas = new QuotaService(ds, bus, opts.clock ?? systemClock, config.quotas, {
      ...config.admission,
      async queueDepth() {
        if (Date.now() - sampledDepth.at > 1000) {
          const d = await queue.depth();
          sampledDepth = { at: Date.now(), n: d.waiting + d.delayed };
        }
        return sampledDepth.n;
      },
    });
    const cacheRedis = config.cache.redisUrl ? await connectRedis(config.cache.redisUrl, "switchboard-cache", { autoPipelining: true }) : publisher;
    if (cacheRedis !== publisher) cleanup.unshift(() => cacheRedis.quit());
    const cache = new ExactCacheService(cacheRedis, config.redis.prefix, config.cache.ttlSeconds, config.cache.sharedModels);
    const semantic = new SemanticCacheService(ds, bus, { threshold: config.cache.semanticThreshold, models: config.cache.semanticModels, ttlSeconds: config.cache.ttlSeconds });
    if (opts.api) {
      await semantic.start();
      cleanup.unshift(async () => semantic.stop());
    }
    const planner = new CachePlanner(registry, cache, semantic, config.cache.caseSensitive, metrics);
    const rateLimits = new RateLimits(publisher, config.redis.prefix, config.rateLimits);
    const coalescer = new Coalescer(publisher, config.redis.prefix, config.sweeper.maxAgeMs);
    const generations = new GenerationService(ds, registry, queue, bus, config.limits, log, metrics, quotas, planner, rateLimits, coalescer, router, providers);
    const sweeper = new SweeperService(ds, queue, bus, config.sweeper, log, metrics);
    const monitoring = new Monitoring({ ds, redis, prefix: config.redis.prefix, bus, alerts, providers, metrics, log, queueDepth: () => queue.depth(), config: config.monitoring });
    cleanup.unshift(() => monitoring.stop());
    // Webhooks: terminal events and budget warnings become deliveries wherever they happen (API or worker).
    const webhookQueue = new WebhookQueue({ connection: redis, prefix: config.redis.prefix, maxAttempts: config.webhooks.maxAttempts });
    const webhookDispatcher = new WebhookDispatcher(ds, webhookQueue, quotas, alerts, config.quotas.warnRatio, log);
    const webhookReconciler = new WebhookReconciler(ds, webhookDispatcher, webhookQueue, log);
    cleanup.unshift(() => webhookQueue.close());
    cleanup.unshift(() => webhookDispatcher.drain()); // before the queue closes
    const addressPolicy = new AddressPolicy(config.webhooks.allowedHosts, new HostResolver({ timeoutMs: config.webhooks.dnsTimeoutMs }));
    const secretBox = new SecretBox(config.providers.masterKey);
    const webhooks = new WebhookService(ds, webhookQueue, addressPolicy, secretBox, config.limits.maxPageSize);
    bus.onTerminal((g, type) => webhookDispatcher.generationEnded(g, type));
    logFailedGenerations(bus, ds, log);
    quotas.onWarning((userId) => webhookDispatcher.quotaWarning(userId));
    generations.checkCallbackUrl = (viewer, url) => webhooks.checkCallbackUrl(viewer, url);
    const services: Services = {
      config, generations, apiKeys, registry, bus, quotas, cache, semantic, providers, alerts, router, breakers, faults, webhooks,
      analytics: new AnalyticsService(readDs, config.analytics),
      health: monitoring.health,
      filesSecret: await filesSecret(ds, config.files.signingSecret),
      newLoaders: () => createLoaders(ds),
    };
    const probes: Probes = {
      async ready() {
        const checks: Record<string, true | string> = {};
        checks.postgres = await ds.query("SELECT 1").then(() => true as const, (e: Error) => e.message);
        checks.redis = await redis.ping().then(() => true as const, (e: Error) => e.message);
        checks.migrations = checks.postgres === true
          ? await pendingMigrations(ds).then((p) => (p.length ? `${p.length} pending` : (true as const)))
          : "unknown";
        return checks;
      },
      async beforeScrape() {
        const d = await queue.depth();
        for (const [state, n] of Object.entries(d)) metrics.queueDepth.set({ state }, n);
        await monitoring.sampleKeyPools();
        await sampleCircuits(breakers, registry, metrics);
      },
    };

    let runner: GenerationRunner | undefined;
    const workers: Worker[] = [];
    const unsubs: (() => void)[] = [];
    if (opts.workers) {
      runner = new GenerationRunner(ds, registry, bus, blobs, config.worker, log, metrics, quotas, { exact: cache, semantic, coalescer }, keyPool, new EmbeddingBatcher(config.providers.embeddingBatch, providers.runBatch), providers, breakers, keyLimits);
      providers.startProbes(config.providers.healthIntervalMs);
      monitoring.startAnomalyChecks();
      const r = runner;
      unsubs.push(await bus.subscribe(Topic.CANCEL_GENERATION, undefined, ({ generationId }) => void r.abort(generationId)));
      const settings = { connection: redis, prefix: config.redis.prefix };
      // A lease outlives the longest run (every fallback call timing out) and then frees itself.
      const fairness = new UserFairness(publisher, config.redis.prefix, config.resilience.userMaxInFlight, 8 * config.worker.providerTimeoutMs + 60_000, async (userId) => {
        // Two range probes on the active-by-user index: is any other user's generation waiting?
        const [r] = await ds.query(
          `SELECT EXISTS (SELECT 1 FROM generations WHERE status = 'QUEUED' AND user_id < $1)
               OR EXISTS (SELECT 1 FROM generations WHERE status = 'QUEUED' AND user_id > $1) AS others`,
          [userId],
        );
        return r.others === true;
      });
      workers.push(createGenerationWorker(runner, { ...settings, ...config.worker }, log, fairness));
      // Schedulers live in Redis: each worker process re-creates them every sweep interval if Redis lost them (a flush).
      const maintenanceQueue = await scheduleMaintenance({ ...settings, sweepIntervalMs: config.sweeper.intervalMs, retentionDays: config.files.retentionDays }, log);
      cleanup.unshift(() => maintenanceQueue.close());
      workers.push(createMaintenanceWorker({ sweeper, blobs, purgeExpiredCache: () => semantic.purgeExpired(), reconcileWebhooks: () => webhookReconciler.reconcile() }, { ...settings, sweepIntervalMs: config.sweeper.intervalMs, retentionDays: config.files.retentionDays }, log));
      if (config.analytics.rollupIntervalMs > 0) {
        const rollupSettings = { ...settings, everyMs: config.analytics.rollupIntervalMs, checkEveryMs: config.sweeper.intervalMs };
        const rollupQueue = await scheduleRollups(rollupSettings, log);
        cleanup.unshift(() => rollupQueue.close());
        workers.push(createRollupWorker(new RollupService(ds, { dirtyLookbackMs: config.sweeper.maxAgeMs + 3_600_000 }), rollupSettings, log));
      } else await unscheduleRollups(settings);
      const webhookSender = new WebhookSender(addressPolicy, config.webhooks.timeoutMs);
      cleanup.unshift(async () => webhookSender.close());
      // One unreachable endpoint holds at most its cap of slots, across every worker; the rest wait parked.
      const webhookCaps = new WebhookConcurrency(publisher, config.redis.prefix, { perDestination: config.webhooks.endpointConcurrency, perUser: config.webhooks.userConcurrency, attemptTimeoutMs: config.webhooks.timeoutMs });
      workers.push(createWebhookWorker(new WebhookDeliverer(ds, webhookSender, secretBox, config.webhooks.backoffBaseMs, log, (event, outcome) => metrics.webhookDeliveries.inc({ event, outcome })), { ...settings, ...config.webhooks }, log, webhookCaps));
    }

    let httpServer: HttpServer | undefined;
    if (opts.api) {
      const schema = await buildAppSchema();
      httpServer = await createHttpServer({ config, schema, services, blobs, log, metrics, probes, promoteJob: (id) => queue.promote(id) });
      const h = httpServer;
      unsubs.push(
        await bus.subscribe(Topic.API_KEY_REVOKED, undefined, ({ keyId, keyHash }) => {
          apiKeys.purge(keyHash);
          const closed = h.closeSocketsForKey(keyId);
          if (closed) log.info({ keyId, closed }, "closed sockets of a revoked API key");
        }),
      );
    }
    let metricsServer: http.Server | undefined;

    return {
      config, ds, redis, bus, services, queue, metrics, log, http: httpServer, runner, sweeper,
      reconcileWebhooks: (graceMs?: number) => webhookReconciler.reconcile(graceMs),
      async start() {
        if (opts.metricsServer) {
          const handle = probesHandler(probes, metrics);
          metricsServer = http.createServer((req, res) => {
            const path = (req.url ?? "/").split("?")[0];
            handle(path, req, res).then(
              (found) => found || sendJson(res, 404, { error: "not found" }),
              () => sendJson(res, 500, { error: "internal error" }),
            );
          });
          await listenOn(metricsServer, config.metricsPort, config.http.host, "METRICS_PORT");
        }
        return httpServer ? httpServer.listen() : undefined;
      },
      async stop() {
        // 1. stop accepting: HTTP drains, sockets close
        await httpServer?.close().catch((err) => log.error({ err }, "http close"));
        // 2. running jobs get a grace period, then go back to the queue
        const grace = new Promise<"timeout">((r) => setTimeout(() => r("timeout"), config.http.shutdownGraceMs).unref());
        const closing = Promise.all(workers.map((w) => w.close()));
        if ((await Promise.race([closing, grace])) === "timeout") {
          const n = runner?.abortAll() ?? 0;
          log.warn({ handedBack: n }, "shutdown grace period over: running jobs handed back to the queue");
          await closing;
        }
        for (const u of unsubs) u();
        await new Promise<void>((r) => (metricsServer ? metricsServer.close(() => r()) : r()));
        for (const c of cleanup) await c().catch(() => undefined);
      },

    };
  } catch (err) {
    for (const c of cleanup) await c().catch(() => undefined);
    throw err;
  }
}
