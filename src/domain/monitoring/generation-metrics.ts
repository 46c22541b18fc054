/**
 * Metrics fed from generations: what finished generations cost (terminal hook), the model
 * label every generation metric uses, tokens and time to first token (called by the runner at
 * each upstream call). Retries, fallbacks and delays are counted by the runner at each
 * decision (switchboard_upstream_retries_total).
 */
import type { GenerationEntity } from "../../db/entities/generation.entity";
import type { Metrics } from "../../observability/metrics";
import type { Usage } from "../../providers/contract";
import type { GenerationEvents } from "../generations/generation-events";

/** "provider/model" that served (or last tried) a generation; the requested name (alias, auto) only when none did. */
export function servedModel(g: Pick<GenerationEntity, "provider" | "providerModel" | "model">): string {
  return g.provider && g.providerModel ? `${g.provider}/${g.providerModel}` : g.model;
}

/** switchboard_generations_total (and the duration once it ran): one call per terminal transition. */
export function countTerminal(metrics: Metrics, g: GenerationEntity): void {
  metrics.generations.inc({ provider: g.provider ?? "", model: servedModel(g), status: g.status, cached: String(g.cached) });
  if (g.startedAt && g.completedAt && !g.cached)
    metrics.generationDuration.observe({ provider: g.provider ?? "", modality: g.modality, status: g.status }, (g.completedAt.getTime() - g.startedAt.getTime()) / 1000);
}

/** Tokens a successful upstream call used, as the provider reported them. `model` is the public "provider/model" id. */
export function countTokens(metrics: Metrics, provider: string, model: string, usage: Usage | undefined): void {
  if (usage?.inputTokens) metrics.tokens.inc({ provider, model, direction: "input" }, usage.inputTokens);
  if (usage?.outputTokens) metrics.tokens.inc({ provider, model, direction: "output" }, usage.outputTokens);
}

/** Starts timing one upstream call; the returned function observes time to first token on its first call only. */
export function firstTokenTimer(metrics: Metrics, provider: string, model: string): () => void {
  const t0 = performance.now();
  let seen = false;
  return () => {
    if (seen) return;
    seen = true;
    metrics.timeToFirstToken.observe({ provider, model }, (performance.now() - t0) / 1000);
  };
}

/** switchboard_cost_usd_total: what each finished generation cost (a terminal listener). */
export function observeGenerations(events: GenerationEvents, metrics: Metrics): void {
  events.onTerminal((g) => {
    const micros = Number(g.costMicros ?? 0);
    if (micros > 0) metrics.costUsd.inc({ provider: g.provider ?? "unknown", model: servedModel(g) }, micros / 1_000_000);
  });
}
