/** Every Prometheus metric, defined in one place. One registry per process (per app in tests). */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export function createMetrics(opts: { defaultMetrics: boolean }) {
  const registry = new Registry();
  if (opts.defaultMetrics) collectDefaultMetrics({ register: registry, prefix: "switchboard_" });
  const r = [registry];
  return {
    registry,
    graphqlOperations: new Counter({
      name: "switchboard_graphql_operations_total",
      help: "GraphQL operations by operation name, type and outcome (ok | error)",
      labelNames: ["operation", "type", "outcome"] as const,
      registers: r,
    }),
    generations: new Counter({
      name: "switchboard_generations_total",
      help: "Generations reaching a terminal state, by provider, model, status and cached",
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
      help: "From start of processing to terminal state",
      labelNames: ["provider", "modality", "status"] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
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
    wsConnections: new Gauge({
      name: "switchboard_ws_connections",
      help: "Open GraphQL WebSocket connections on this node",
      registers: r,
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
