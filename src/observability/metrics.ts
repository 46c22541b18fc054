/**
 * Every Prometheus metric, defined in one place. One registry per process (per app in tests).
 * Each process (API node, worker) exports what it did; Prometheus sums across instances.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export function createMetrics(opts: { defaultMetrics: boolean }) {
  const registry = new Registry();
  if (opts.defaultMetrics) collectDefaultMetrics({ register: registry, prefix: "switchboard_" });
  const r = [registry];
  return {
    registry,
    graphqlOperations: new Counter({
      name: "switchboard_graphql_operations_total",
      help: "GraphQL operations (HTTP, WebSocket, SSE) by operation name, type and outcome (ok | error). The name is bounded: one of the typed client's operations, IntrospectionQuery or anonymous; any other name counts as other",
      labelNames: ["operation", "type", "outcome"] as const,
      registers: r,
    }),
    generations: new Counter({
      name: "switchboard_generations_total",
      help: "Generations reaching a terminal state, by the provider and model that served them (provider/model, not the alias or auto requested; the requested name when none served it), status and cached",
      labelNames: ["provider", "model", "status", "cached"] as const,
      registers: r,
    }),
    generationsCreated: new Counter({
      name: "switchboard_generations_created_total",
      help: "Generations accepted by createGeneration, by modality",
      labelNames: ["modality"] as const,
      registers: r,
    }),
    generationDuration: new Histogram({
      name: "switchboard_generation_duration_seconds",
      help: "From start of processing to terminal state (video reaches minutes: buckets up to an hour)",
      labelNames: ["provider", "modality", "status"] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 900, 1800, 3600],
      registers: r,
    }),
    tokens: new Counter({
      name: "switchboard_tokens_total",
      help: "Tokens of successful upstream calls as the provider reported them, by provider, model and direction (input | output)",
      labelNames: ["provider", "model", "direction"] as const,
      registers: r,
    }),
    timeToFirstToken: new Histogram({
      name: "switchboard_time_to_first_token_seconds",
      help: "From the start of a streamed upstream call to its first delta, by provider and model (queue wait excluded: see switchboard_generation_queue_wait_seconds)",
      labelNames: ["provider", "model"] as const,
      buckets: [0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 20, 30, 60],
      registers: r,
    }),
    queueWait: new Histogram({
      name: "switchboard_generation_queue_wait_seconds",
      help: "From creation to first start of processing",
      labelNames: ["priority"] as const,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: r,
    }),
    upstreamAttempts: new Counter({
      name: "switchboard_upstream_attempts_total",
      help: "Upstream provider calls by provider, model and outcome (ok or error kind)",
      labelNames: ["provider", "model", "outcome"] as const,
      registers: r,
    }),
    queueDepth: new Gauge({
      name: "switchboard_queue_depth",
      help: "Jobs in the generations queue by state (sampled at scrape time)",
      labelNames: ["state"] as const,
      registers: r,
    }),
    sweeperRecovered: new Counter({
      name: "switchboard_sweeper_recovered_total",
      help: "Generations re-enqueued or expired by the sweeper",
      labelNames: ["action"] as const,
      registers: r,
    }),
    cacheLookups: new Counter({
      name: "switchboard_cache_lookups_total",
      help: "Cache lookups by kind (exact | semantic | coalesce) and outcome (hit | miss | joined)",
      labelNames: ["kind", "outcome"] as const,
      registers: r,
    }),
    moderationChecks: new Counter({
      name: "switchboard_moderation_checks_total",
      help: "Content moderation checks by stage (input | output) and outcome (clean | flagged | error: the classifier was down, slow or keyless)",
      labelNames: ["stage", "outcome"] as const,
      registers: r,
    }),
    moderationFlags: new Counter({
      name: "switchboard_moderation_flags_total",
      help: "Flagged texts by stage (input | output) and category (the classifier's names: violence, hate, …; one flagged text counts once per category)",
      labelNames: ["stage", "category"] as const,
      registers: r,
    }),
    moderationSeconds: new Histogram({
      name: "switchboard_moderation_seconds",
      help: "How long one moderation call took, by stage",
      labelNames: ["stage"] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: r,
    }),
    semanticRejected: new Counter({
      name: "switchboard_semantic_cache_rejected_total",
      help: "Semantic cache near neighbours (above the similarity threshold) that failed the verification step and were not served, by the check that failed (language | quotes | numbers | negation | entities | antonym | content | order)",
      labelNames: ["reason"] as const,
      registers: r,
    }),
    semanticEmbeddings: new Counter({
      name: "switchboard_semantic_cache_embeddings_total",
      help: "Prompts the semantic cache embedded, by embedder (offline-hashed-v1 | model:<provider/model>) and outcome (model: an upstream call | cached: remembered | fallback: the model failed or is unavailable, the offline embedder answered | offline: no model configured)",
      labelNames: ["embedder", "outcome"] as const,
      registers: r,
    }),
    wsConnections: new Gauge({
      name: "switchboard_ws_connections",
      help: "Open GraphQL WebSocket connections on this node",
      registers: r,
    }),
    sseStreams: new Gauge({
      name: "switchboard_sse_streams",
      help: "Open GraphQL over Server-Sent Events streams (/graphql/stream) on this node",
      registers: r,
    }),
    upstreamRetries: new Counter({
      name: "switchboard_upstream_retries_total",
      help: "Upstream failures that led to another try, by provider that failed, error kind and action (retry: the job backs off | fallback: the next candidate | other_key: another key of the same provider | delay: the job waits for keys or circuits)",
      labelNames: ["provider", "error_kind", "action"] as const,
      registers: r,
    }),
    costUsd: new Counter({
      name: "switchboard_cost_usd_total",
      help: "What finished generations cost upstream, in USD, by provider and model (counted where the terminal transition happens)",
      labelNames: ["provider", "model"] as const,
      registers: r,
    }),
    circuitState: new Gauge({
      name: "switchboard_circuit_state",
      help: "Provider-wide circuit breaker state: 0 closed, 1 half-open, 2 open. Every configured provider has a value from start (read from Redis), then follows every node's transitions",
      labelNames: ["provider"] as const,
      registers: r,
    }),
    keyHealth: new Gauge({
      name: "switchboard_provider_key_health",
      help: "Share of successes among a provider key's last 20 calls, 0..1 (sampled at scrape time)",
      labelNames: ["provider", "label"] as const,
      registers: r,
    }),
    keyInFlight: new Gauge({
      name: "switchboard_provider_key_in_flight",
      help: "Calls in flight on a provider key across all workers (sampled at scrape time)",
      labelNames: ["provider", "label"] as const,
      registers: r,
    }),
    keyState: new Gauge({
      name: "switchboard_provider_key_state",
      help: "Provider key state: 0 active, 1 cooling down, 2 disabled (sampled at scrape time)",
      labelNames: ["provider", "label"] as const,
      registers: r,
    }),
    webhookDeliveries: new Counter({
      name: "switchboard_webhook_deliveries_total",
      help: "Webhook deliveries to users' endpoints by event and outcome",
      labelNames: ["event", "outcome"] as const,
      registers: r,
    }),
    alertsRaised: new Counter({
      name: "switchboard_alerts_total",
      help: "Alerts raised in this process, by kind and provider",
      labelNames: ["kind", "provider"] as const,
      registers: r,
    }),
    monitoringWebhook: new Counter({
      name: "switchboard_monitoring_webhook_total",
      help: "Alerts POSTed to MONITORING_WEBHOOK_URL, by outcome (ok | error)",
      labelNames: ["outcome"] as const,
      registers: r,
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
