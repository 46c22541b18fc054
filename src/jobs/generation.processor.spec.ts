import { describe, expect, it } from "vitest";
import { ProviderError } from "../providers/contract";
import { RetryLaterError, retryLater } from "../domain/generations/run/outcome";
import { backoffDelay } from "./generation.processor";

describe("backoffDelay", () => {
  it("honours Retry-After", () => {
    const err = new ProviderError({ provider: "p", kind: "rate_limited", message: "slow down", retryAfterSeconds: 7 });
    expect(backoffDelay(1, 1000, retryLater(err, null))).toBe(7000);
  });
  it("is exponential with full jitter otherwise", () => {
    for (let attempt = 1; attempt <= 5; attempt++) {
      for (let i = 0; i < 50; i++) {
        const d = backoffDelay(attempt, 100, new Error("x"));
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThanOrEqual(100 * 2 ** (attempt - 1));
      }
    }
  });
  it("never waits past the request's deadline", () => {
    const err = new ProviderError({ provider: "p", kind: "rate_limited", message: "x", retryAfterSeconds: 30 });
    expect(backoffDelay(1, 1000, retryLater(err, new Date(Date.now() + 1200), Date.now()))).toBeLessThanOrEqual(1200);
    expect(backoffDelay(1, 1000, new RetryLaterError(err, 30_000, 1200))).toBe(1200);
    expect(backoffDelay(6, 1000, new RetryLaterError(new ProviderError({ provider: "p", kind: "unavailable", message: "x" }), undefined, 5))).toBeLessThanOrEqual(5);
  });
});
