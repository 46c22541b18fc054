import { describe, expect, it } from "vitest";
import { ProviderError } from "../providers/contract";
import { backoffDelay } from "./generation.processor";

describe("backoffDelay", () => {
  it("honours Retry-After", () => {
    const err = new ProviderError({ provider: "p", kind: "rate_limited", message: "slow down", retryAfterSeconds: 7 });
    expect(backoffDelay(1, 1000, err)).toBe(7000);
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
    const err = Object.assign(new ProviderError({ provider: "p", kind: "rate_limited", message: "x", retryAfterSeconds: 30 }), { maxDelayMs: 1200 });
    expect(backoffDelay(1, 1000, err)).toBe(1200);
    expect(backoffDelay(6, 1000, Object.assign(new Error("x"), { maxDelayMs: 5 }))).toBeLessThanOrEqual(5);
  });
});
