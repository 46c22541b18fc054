import { describe, expect, it } from "vitest";
import { ProviderError } from "../../../providers/contract";
import { circuitOpenError, classify, errorCode, queueAction, retryLater, RetryLaterError, type RunOutcome } from "./outcome";

describe("queueAction", () => {
  it("completes finished and skipped runs", () => {
    expect(queueAction({ kind: "finished", status: "SUCCEEDED" })).toEqual({ kind: "complete" });
    expect(queueAction({ kind: "finished", status: "FAILED" })).toEqual({ kind: "complete" });
    expect(queueAction({ kind: "skipped", reason: "cancelled" })).toEqual({ kind: "complete" });
  });
  it("delays hand-backs at once, waits and re-checks by their delay", () => {
    expect(queueAction({ kind: "handback" })).toEqual({ kind: "delay", delayMs: 0 });
    expect(queueAction({ kind: "delay", delayMs: 1500 })).toEqual({ kind: "delay", delayMs: 1500 });
    expect(queueAction({ kind: "recheck", delayMs: 200 })).toEqual({ kind: "delay", delayMs: 200 });
  });
  it("retries with the run's error", () => {
    const error = new RetryLaterError(new ProviderError({ provider: "p", kind: "unavailable", message: "down" }));
    const o: RunOutcome = { kind: "retry", error };
    expect(queueAction(o)).toEqual({ kind: "retry", error });
  });
});

describe("retryLater", () => {
  const err = new ProviderError({ provider: "p", kind: "rate_limited", message: "slow down", retryAfterSeconds: 3 });
  it("waits the provider's Retry-After, capped by the deadline", () => {
    const r = retryLater(err, new Date(10_000), 9_000);
    expect(r).toMatchObject({ delayMs: 3000, maxDelayMs: 1000, kind: "rate_limited", message: "slow down", name: "RetryLaterError" });
    expect(r.error).toBe(err);
  });
  it("leaves the delay to backoff without a Retry-After, and never caps below zero", () => {
    const r = retryLater(new ProviderError({ provider: "p", kind: "timeout", message: "slow" }), new Date(1_000), 5_000);
    expect(r.delayMs).toBeUndefined();
    expect(r.maxDelayMs).toBe(0);
    expect(retryLater(err, null).maxDelayMs).toBeUndefined();
  });
});

describe("attempt errors", () => {
  it("maps kinds to generation error codes", () => {
    expect(errorCode("unavailable")).toBe("PROVIDER_UNAVAILABLE");
    expect(errorCode("auth")).toBe("PROVIDER_AUTH");
    expect(errorCode("circuit_open")).toBe("CIRCUIT_OPEN");
    expect(errorCode("rate_limited")).toBe("RATE_LIMITED");
  });
  it("an open circuit is a retryable circuit_open error naming the next probe", () => {
    const e = circuitOpenError("openai:gpt", Date.UTC(2026, 0, 1));
    expect(e).toEqual({ kind: "circuit_open", retryable: true, message: "circuit openai:gpt is OPEN; next probe at 2026-01-01T00:00:00.000Z" });
  });
  it("classifies what a call threw", () => {
    const pe = new ProviderError({ provider: "p", kind: "bad_response", message: "x" });
    expect(classify(pe, "p", false, false)).toBe(pe);
    expect(classify(pe, "p", true, false).kind).toBe("cancelled");
    expect(classify(new ProviderError({ provider: "p", kind: "cancelled", message: "x" }), "p", false, true).kind).toBe("timeout");
    expect(classify(new Error("boom"), "p", false, true).kind).toBe("timeout");
    expect(classify(new Error("boom"), "p", false, false)).toMatchObject({ kind: "unavailable", message: "internal error: boom" });
  });
});
