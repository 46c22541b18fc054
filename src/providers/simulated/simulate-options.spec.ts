import { describe, expect, it } from "vitest";
import { parseSimulateOptions, SimulateOptionsError } from "./simulate-options";

describe("parseSimulateOptions", () => {
  it("applies defaults when simulate is absent", () => {
    expect(parseSimulateOptions({})).toEqual({ latencyMs: 0, failRate: 0 });
    expect(parseSimulateOptions(undefined)).toEqual({ latencyMs: 0, failRate: 0 });
    expect(parseSimulateOptions({ simulate: null })).toEqual({ latencyMs: 0, failRate: 0 });
  });

  it("defaults failRate to 1 when failWith is given", () => {
    expect(parseSimulateOptions({ simulate: { failWith: "unavailable" } })).toEqual({
      latencyMs: 0,
      failRate: 1,
      failWith: "unavailable",
    });
  });

  it("keeps every valid field", () => {
    const simulate = { latencyMs: 250, steps: 3, failRate: 0.5, failWith: "rate_limited", retryAfterSeconds: 7 };
    expect(parseSimulateOptions({ simulate })).toEqual(simulate);
  });

  it.each([
    [{ simulate: "fast" }, /simulate must be an object/],
    [{ simulate: [] }, /simulate must be an object/],
    [{ simulate: { latencyMs: "100" } }, /latencyMs/],
    [{ simulate: { latencyMs: -1 } }, /latencyMs/],
    [{ simulate: { latencyMs: 60_001 } }, /latencyMs/],
    [{ simulate: { latencyMs: Number.NaN } }, /latencyMs/],
    [{ simulate: { failRate: 1.5, failWith: "timeout" } }, /failRate/],
    [{ simulate: { failRate: -0.1, failWith: "timeout" } }, /failRate/],
    [{ simulate: { failRate: 0.5 } }, /failRate/],
    [{ simulate: { failWith: "explode" } }, /failWith/],
    [{ simulate: { failWith: 3 } }, /failWith/],
    [{ simulate: { steps: 0 } }, /steps/],
    [{ simulate: { steps: 2.5 } }, /steps/],
    [{ simulate: { retryAfterSeconds: -1 } }, /retryAfterSeconds/],
    [{ simulate: { latency: 5 } }, /unknown field.*latency/],
  ])("rejects %j", (params, message) => {
    expect(() => parseSimulateOptions(params)).toThrow(SimulateOptionsError);
    expect(() => parseSimulateOptions(params)).toThrow(message);
  });
});
