import { describe, expect, it } from "vitest";
import { retryLabels } from "./generation-metrics";

describe("retryLabels", () => {
  const g = { provider: "openai" };

  it("a FALLBACK names the provider that failed and why", () => {
    expect(retryLabels({ provider: "anthropic" }, { type: "FALLBACK", message: "openai/gpt-4o-mini failed (unavailable: 503 upstream); trying anthropic/claude-haiku" }))
      .toEqual({ provider: "openai", error_kind: "unavailable", action: "fallback" });
  });

  it("a RETRYING after a retryable failure is a retry of that kind", () => {
    expect(retryLabels(g, { type: "RETRYING", message: "rate_limited: slow down; retrying in 2s" })).toEqual({ provider: "openai", error_kind: "rate_limited", action: "retry" });
    expect(retryLabels(g, { type: "RETRYING", message: "timeout: the provider did not answer in time; retrying" })).toMatchObject({ error_kind: "timeout", action: "retry" });
  });

  it("a RETRYING because every key cools down is a delay", () => {
    expect(retryLabels(g, { type: "RETRYING", message: "every openai key is cooling down after rate limits; waiting 1.5s" }))
      .toEqual({ provider: "openai", error_kind: "rate_limited", action: "delay" });
  });

  it("a RETRYING because every circuit is open or every key is busy is a delay of that kind", () => {
    expect(retryLabels(g, { type: "RETRYING", message: "every candidate's circuit is OPEN; waiting 30s" })).toEqual({ provider: "openai", error_kind: "circuit_open", action: "delay" });
    expect(retryLabels(g, { type: "RETRYING", message: "every openai key is at its concurrency cap (64); waiting 0.3s" })).toEqual({ provider: "openai", error_kind: "key_busy", action: "delay" });
  });

  it("other events are not retries; unknown wording still counts", () => {
    for (const type of ["STARTED", "SUCCEEDED", "FAILED", "RESTARTED"] as const) expect(retryLabels(g, { type, message: "x: y" })).toBeUndefined();
    expect(retryLabels({ provider: null }, { type: "RETRYING", message: "Something else" })).toEqual({ provider: "unknown", error_kind: "unknown", action: "retry" });
  });
});
