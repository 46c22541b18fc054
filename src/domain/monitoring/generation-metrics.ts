/**
 * Metrics fed from generation events in the process that publishes them: what finished
 * generations cost (terminal hook). Retries, fallbacks and delays are counted by the runner
 * at each decision (switchboard_upstream_retries_total).
 */
import type { GenerationEntity } from "../../db/entities/generation.entity";
import type { Metrics } from "../../observability/metrics";
import type { EventBus } from "../../realtime/event-bus";

export function observeGenerations(bus: EventBus, metrics: Metrics): void {
  bus.onTerminal((g) => {
    const micros = Number(g.costMicros ?? 0);
    if (micros > 0) {
      const model = g.provider && g.providerModel ? `${g.provider}/${g.providerModel}` : g.model;
      metrics.costUsd.inc({ provider: g.provider ?? "unknown", model }, micros / 1_000_000);
    }
  });
}
