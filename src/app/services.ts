/**
 * Domain services, built once from the infrastructure, in dependency order. Whatever starts
 * a timer or a subscription registers its stop on the cleanup stack.
 */
import { createLoaders, type LoaderReads } from "../api/loaders/loaders";
import type { Services } from "../api/services";
import { systemClock, type Clock } from "../common/clock";
import type { AppConfig } from "../config/config";
import type { Probes } from "../http/probes";
import { AnalyticsService } from "../domain/analytics/analytics.service";
import { ApiKeyService } from "../domain/auth/api-key.service";
import { AccountService } from "../domain/auth/account.service";
import { ApiKeyStore } from "../domain/auth/api-key.store";
import { AuthThrottle } from "../domain/auth/auth-throttle";
import { UserStore } from "../domain/auth/user.store";
import { CachePlanner } from "../domain/cache/cache-planner";
import { Coalescer } from "../domain/cache/coalescer";
import { ExactCacheService } from "../domain/cache/exact-cache.service";
import { PromptEmbedder } from "../domain/cache/prompt-embedder";
import { SemanticCacheService } from "../domain/cache/semantic-cache.service";
import { GenerationEvents } from "../domain/generations/generation-events";
import { GenerationService } from "../domain/generations/generation.service";
import { GenerationStore } from "../domain/generations/generation.store";
import { SweeperService } from "../domain/generations/sweeper.service";
import { SyncRun } from "../domain/generations/sync-run";
import { gatedByPause, QueueControl } from "../domain/generations/queue-control";
import { QueuePositions } from "../domain/generations/queue-control-positions";
import { InProcessRuns } from "../domain/generations/in-process-runs";
import { EmbeddingBatcher } from "../domain/generations/run/embedding-batcher";
import { GenerationRunner } from "../domain/generations/run/runner";
import { BatchService } from "../domain/batches/batch.service";
import { BatchStore } from "../domain/batches/batch.store";
import { BatchQueue } from "../jobs/batch-queue";
import { classifierFor } from "../domain/moderation/classifier";
import { ModerationService } from "../domain/moderation/moderation.service";
import { UserFairness } from "../domain/resilience/user-fairness";
import { Topic } from "../realtime/topics";
import { CIRCUIT_GAUGE, sampleCircuits } from "../domain/monitoring/circuit-metrics";
import { logFailedGenerations } from "../domain/monitoring/generation-log";
import { Monitoring } from "../domain/monitoring/monitoring";
import { AlertsService } from "../domain/providers/alerts.service";
import { KeyLimits } from "../domain/providers/key-limits";
import { KeyPool } from "../domain/providers/key-pool";
import { ProviderKeyStore } from "../domain/providers/provider-key.store";
import { ProviderService } from "../domain/providers/provider.service";
import { SimulatedFaults } from "../domain/providers/simulated-faults";
import { QuotaService } from "../domain/quotas/quota.service";
import { RateLimits } from "../domain/quotas/rate-limits";
import { CircuitBreakers } from "../domain/resilience/circuit-breaker";
import { Router } from "../domain/routing/router";
import { SettingsStore } from "../domain/settings/settings.store";
import { AddressPolicy } from "../domain/webhooks/address-policy";
import { HostResolver } from "../domain/webhooks/host-resolver";
import { SecretBox } from "../domain/webhooks/secret-box";
import { WebhookDispatcher } from "../domain/webhooks/webhook-dispatcher";
import { WebhookReconciler } from "../domain/webhooks/webhook-reconciler";
import { WebhookService } from "../domain/webhooks/webhook.service";
import { buildProviders } from "../domain/providers/provider-setup";
import { DiscoveredModelStore } from "../domain/catalog/discovered-model.store";
import { ModelCatalog } from "../domain/catalog/model-catalog";
import { ProviderRegistry } from "../providers/registry";
import { tracedProvider } from "../providers/traced-provider";
import type { CleanupStack } from "./cleanup";
import type { Infrastructure } from "./infrastructure";

export interface ServiceOptions {
  /** Serving the API: the semantic cache's index is kept warm. */
  api: boolean;
  /** The time source for quota periods (tests move it to cross a period boundary). */
  clock?: Clock;
}

/** Everything built here: what resolvers see (`services`) and what workers and probes also need. */
export type AppServices = Awaited<ReturnType<typeof buildServices>>;

export async function buildServices(config: AppConfig, infra: Infrastructure, opts: ServiceOptions, cleanup: CleanupStack) {
  const { ds, redis, publisher, bus, log, metrics, queue, webhookQueue } = infra;
  const faults = new SimulatedFaults(redis, config.redis.prefix);
  await faults.start();
  cleanup.defer(() => faults.stop());
  const setup = buildProviders(config.providers, config.http.publicUrl, (id, model) => faults.get(id, model));
  for (const w of setup.warnings) log.warn(w);
  // A true cycle: the provider service looks providers up in the registry, and the registry asks
  // it which providers are configured. The registry calls this only on lookups, after both exist.
  const registry = new ProviderRegistry(config.tracing.endpoint ? setup.providers.map(tracedProvider) : setup.providers, (id): boolean => providers.configured(id));
  const alerts = new AlertsService(ds, bus);
  const keyLimits = new KeyLimits(publisher, config.redis.prefix, config.resilience);
  const keyPool = new KeyPool(new ProviderKeyStore(ds), publisher, bus, config.redis.prefix, config.providers, alerts, log, keyLimits);
  await keyPool.start();
  cleanup.defer(() => keyPool.stop());
  const providers = new ProviderService(registry, setup, keyPool, redis, config.redis.prefix, log);
  cleanup.defer(() => providers.stop());
  // Discovered models (shared in Postgres) join the catalog before anything routes.
  const catalog = new ModelCatalog({
    registry, setup, store: new DiscoveredModelStore(ds), redis, prefix: config.redis.prefix, bus, log, cfg: config.providers,
    keyFor: (id) => keyPool.keyFor(id, undefined), configured: (id) => providers.configured(id),
  });
  await catalog.start();
  cleanup.defer(() => catalog.stop());
  const r = config.resilience;
  const breakers = new CircuitBreakers(publisher, ds, bus, config.redis.prefix, {
    defaults: { failureThreshold: r.failureThreshold, failureRate: r.failureRate, minCalls: r.minCalls, windowMs: r.windowMs, resetMs: r.resetMs, halfOpenMax: r.halfOpenMax, perModel: false },
    overrides: { ...Object.fromEntries(r.perModelProviders.map((p) => [p, { perModel: true }])), ...setup.circuits },
  }, log, (provider, model, state) => {
    if (!model) metrics.circuitState.set({ provider }, CIRCUIT_GAUGE[state]);
  });
  await breakers.start();
  cleanup.defer(() => breakers.stop());
  await sampleCircuits(breakers, registry, metrics); // every configured circuit has a value from start
  const router = new Router(registry, {
    aliases: setup.aliases, tierModels: setup.tierModels, maxCandidates: config.providers.maxCandidates,
    unavailableReason: (id) => providers.unavailableReason(id),
    modelRefusal: (m) => catalog.refusal(m), tierPriceRefusal: (tier, m) => catalog.tierPriceRefusal(tier, m),
  });
  const apiKeys = new ApiKeyService(ds, bus, config.auth.cacheTtlMs, {
    throttle: new AuthThrottle(publisher, config.redis.prefix, config.auth.unauthenticatedPerMinute),
    unknownPrefixTtlMs: config.auth.unknownPrefixTtlMs,
  });
  const quotas = new QuotaService(ds, bus, opts.clock ?? systemClock, config.quotas, {
    ...config.admission,
    queueDepth: () => infra.admissionQueueDepth(),
  });
  const cache = new ExactCacheService(infra.cacheRedis, config.redis.prefix, config.cache.ttlSeconds, config.cache.sharedModels);
  // The semantic cache embeds with SEMANTIC_CACHE_EMBEDDING_MODEL through its adapter (charged to no one), else offline.
  const promptEmbedder = new PromptEmbedder({
    model: config.cache.semanticEmbeddingModel, registry, exec: providers.runBatch, timeoutMs: config.cache.semanticEmbeddingTimeoutMs,
    batch: config.providers.embeddingBatch, onEmbed: (embedder, outcome) => metrics.semanticEmbeddings.inc({ embedder, outcome }),
    onFailure: (err) => log.warn({ err, model: config.cache.semanticEmbeddingModel }, "semantic cache embedding model failed; the offline embedder answers for 30 s"),
  });
  const semantic = new SemanticCacheService(ds, bus, {
    threshold: config.cache.semanticThreshold, modelThreshold: config.cache.semanticEmbeddingThreshold, models: config.cache.semanticModels, ttlSeconds: config.cache.ttlSeconds,
  }, { embed: (text) => promptEmbedder.embed(text), onRejected: (reason) => metrics.semanticRejected.inc({ reason }) });
  if (opts.api) {
    await semantic.start();
    cleanup.defer(() => semantic.stop());
  }
  const planner = new CachePlanner(registry, cache, semantic, config.cache.caseSensitive, metrics);
  const rateLimits = new RateLimits(publisher, config.redis.prefix, config.rateLimits);
  const coalescer = new Coalescer(publisher, config.redis.prefix, config.sweeper.maxAgeMs);
  // The one publisher of generation events; webhooks, cost metrics and the failure log listen to it.
  const events = new GenerationEvents(bus);
  const generationStore = new GenerationStore(ds);
  const addressPolicy = new AddressPolicy(config.webhooks.allowedHosts, new HostResolver({ timeoutMs: config.webhooks.dnsTimeoutMs }));
  const secretBox = new SecretBox(config.providers.masterKey);
  const webhooks = new WebhookService(ds, webhookQueue, addressPolicy, secretBox, config.limits.maxPageSize);
  // Content safety: one classifier for admission (input) and the runner (output); off by default.
  const moderation = config.moderation.mode === "off"
    ? undefined
    : new ModerationService({ cfg: config.moderation, classifier: classifierFor(config.moderation, (id) => registry.provider(id), keyPool), metrics, log });
  // One runner per process: the workers' jobs and the API's in-process sync runs (sync-run.ts) share it.
  const runner = new GenerationRunner({
    store: generationStore, events, registry, blobs: infra.blobs, cfg: config.worker, log, metrics, quotas, cache: { exact: cache, semantic, coalescer },
    keys: keyPool, batcher: new EmbeddingBatcher(config.providers.embeddingBatch, providers.runBatch), upstream: providers, breakers, moderation,
  });
  cleanup.defer(await bus.subscribe(Topic.CANCEL_GENERATION, undefined, ({ generationId }) => void runner.abort(generationId)));
  // Provider batch APIs (priority BATCH): collected, submitted and polled through the provider-batches queue; ended as runs end.
  const batchQueue = new BatchQueue({ connection: redis, prefix: config.redis.prefix });
  cleanup.defer(() => batchQueue.close());
  const batches = new BatchService({
    store: new BatchStore(ds), generations: generationStore, events, registry, keys: keyPool, scheduler: batchQueue, cfg: config.batch, log, finish: runner.finisher,
  });
  // A lease outlives the longest run (every fallback call timing out) and then frees itself.
  const fairness = new UserFairness(publisher, config.redis.prefix, config.resilience.userMaxInFlight, 8 * config.worker.providerTimeoutMs + 60_000, (userId) => generationStore.othersQueued(userId));
  const inProcess = new InProcessRuns(publisher, config.redis.prefix);
  const sync = opts.api && config.sync.inProcess
    ? new SyncRun({ runner, queue, leases: inProcess, events, reload: (id) => generationStore.getById(id), fairness, log, cfg: { slots: config.sync.slots, leaseMs: config.worker.lockMs, backoffMs: config.worker.backoffMs, attempts: config.worker.attempts } })
    : undefined;
  // Queue controls: pauses in Redis (every worker and the fast sync path read them at pickup), clearQueue through the cancel path.
  const queueControl: QueueControl = new QueueControl({
    redis: publisher, prefix: config.redis.prefix, queue, page: (q, n) => generationStore.page(q, n),
    providerOf: async (id) => (await generationStore.findById(id))?.provider ?? null, cancel: (v, id) => generations.cancel(v, id), log,
  });
  const queuePositions = new QueuePositions({
    redis: publisher, prefix: config.redis.prefix, queue, control: queueControl, events, rows: (ids) => generationStore.findByIds(ids), log,
    cfg: { intervalMs: config.worker.queuePositionIntervalMs, watch: config.worker.queuePositionWatch },
  });
  queueControl.start();
  cleanup.defer(() => queueControl.stop());
  queuePositions.start();
  cleanup.defer(() => queuePositions.stop());
  const generations = new GenerationService({
    store: generationStore, registry, scheduler: queue, bus: events, limits: config.limits, log, metrics, quotas, cache: planner, rateLimits, coalescer, router,
    upstream: providers, checkCallbackUrl: (viewer, url) => webhooks.checkCallbackUrl(viewer, url), sync: sync && gatedByPause(sync, queueControl), asyncInProcess: config.sync.async, moderation,
    batches,
  });
  const sweeper = new SweeperService(ds, queue, events, config.sweeper, log, metrics, inProcess, batches);
  const monitoring = new Monitoring({ ds, redis, prefix: config.redis.prefix, events, alerts, providers, metrics, log, queueDepth: () => queue.depth(), config: config.monitoring });
  cleanup.defer(() => monitoring.stop());
  // Webhooks: terminal events and budget warnings become deliveries wherever they happen (API or worker).
  const webhookDispatcher = new WebhookDispatcher(ds, webhookQueue, quotas, alerts, config.quotas.warnRatio, log);
  const webhookReconciler = new WebhookReconciler(ds, webhookDispatcher, webhookQueue, log);
  cleanup.defer(() => webhookDispatcher.drain()); // before the queue closes
  events.onTerminal((g, type) => webhookDispatcher.generationEnded(g, type));
  logFailedGenerations(events, generationStore, log);
  quotas.onWarning((userId) => webhookDispatcher.quotaWarning(userId));
  const userStore = new UserStore(ds, new ApiKeyStore(ds));
  const loaderReads: LoaderReads = { usersByIds: (ids) => userStore.byIds(ids), attemptsOf: (ids) => generationStore.attemptsOf(ids) };
  const services: Services = {
    config, generations, apiKeys, catalog, accounts: new AccountService(apiKeys, config.limits.maxPageSize), registry, bus, quotas, cache, semantic, providers, alerts, router, breakers, faults, webhooks,
    queue: queueControl, queuePositions,
    analytics: new AnalyticsService(infra.readDs, config.analytics),
    health: monitoring.health,
    filesSecret: await new SettingsStore(ds).filesSigningSecret(config.files.signingSecret),
    newLoaders: () => createLoaders(loaderReads),
  };
  return {
    services, events, generationStore, runner, sync, batches, fairness, queueControl, registry, keyPool, providers, breakers, keyLimits, quotas, cache, semantic, coalescer, sweeper, monitoring,
    webhookReconciler, addressPolicy, secretBox,
    /** /healthz, /readyz and /metrics, on the API's port or the worker's METRICS_PORT. */
    probes: {
      ready: infra.ready,
      /** /metrics: refresh the gauges sampled at scrape time. */
      async beforeScrape(): Promise<void> {
        const d = await queue.depth();
        for (const [state, n] of Object.entries(d)) metrics.queueDepth.set({ state }, n);
        await monitoring.sampleKeyPools();
        await sampleCircuits(breakers, registry, metrics);
      },
    } satisfies Probes,
  };
}
