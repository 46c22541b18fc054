/**
 * Metrics fed from generation events in the process that publishes them: what finished
 * generations cost (terminal hook) and upstream retries and fallbacks (RETRYING / FALLBACK).
 *
 * Interim for retries: the runner does not yet count them itself, so the labels are read back
 * from the events it publishes (the failing provider and error kind are in the message).
 * Once the runner calls `metrics.upstreamRetries.inc(...)` at each decision, drop `onEvent`
 * here (or the retries are counted twice).
 */
import type { GenerationEntity } from "../../db/entities/generation.entity";
import type { Metrics } from "../../observability/metrics";
import type { EventBus, EventInit } from "../../realtime/event-bus";

export interface RetryLabels {
  provider: string;
  error_kind: string;
  action: "retry" | "fallback" | "delay";
}

/** What a RETRYING or FALLBACK event says about the failure behind it; undefined for other events. */
export function retryLabels(g: Pick<GenerationEntity, "provider">, ev: Pick<EventInit, "type" | "message">): RetryLabels | undefined {
  const msg = ev.message ?? "";
  if (ev.type === "FALLBACK") {
    // "<provider>/<model> failed (<kind>: …); trying <next>"
    const m = /^([^/\s]+)\/\S* failed \(([a-z_]+):/.exec(msg);
    return { provider: m?.[1] ?? g.provider ?? "unknown", error_kind: m?.[2] ?? "unknown", action: "fallback" };
  }
  if (ev.type !== "RETRYING") return undefined;
  // "<kind>: …; retrying…" (the job backs off) or "<reason>; waiting Ns" (keys cooling down or busy, circuits open)
  const kind = /^([a-z_]+): /.exec(msg)?.[1];
  if (kind) return { provider: g.provider ?? "unknown", error_kind: kind, action: "retry" };
  if (/; waiting [\d.]+s$/.test(msg)) {
    const why = /circuit/i.test(msg) ? "circuit_open" : /concurrency cap|limit/i.test(msg) && !/rate limits/i.test(msg) ? "key_busy" : "rate_limited";
    return { provider: g.provider ?? "unknown", error_kind: why, action: "delay" };
  }
  return { provider: g.provider ?? "unknown", error_kind: "unknown", action: "retry" };
}

export function observeGenerations(bus: EventBus, metrics: Metrics): void {
  bus.onTerminal((g) => {
    const micros = Number(g.costMicros ?? 0);
    if (micros > 0) {
      const model = g.provider && g.providerModel ? `${g.provider}/${g.providerModel}` : g.model;
      metrics.costUsd.inc({ provider: g.provider ?? "unknown", model }, micros / 1_000_000);
    }
  });
  bus.onEvent((g, ev) => {
    const labels = retryLabels(g, ev);
    if (labels) metrics.upstreamRetries.inc(labels);
  });
}
