import type { IncomingMessage } from "node:http";
import { describe, expect, it } from "vitest";
import { responseHeaders, switchboardOptions } from "./headers";

const req = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;

describe("switchboard options", () => {
  it("reads the body's switchboard object, then x-switchboard-* headers for what it lacks", () => {
    const o = switchboardOptions(
      req({ "x-switchboard-fallback-models": "a/b, c/d", "x-switchboard-priority": "low", "x-switchboard-deadline-seconds": "9", "idempotency-key": "k1" }),
      { switchboard: { priority: "HIGH", maxCostUsd: 0.5, cache: "bypass" } },
    );
    expect(o).toEqual({ fallbackModels: ["a/b", "c/d"], priority: "HIGH", maxCostUsd: 0.5, cache: "BYPASS", deadlineSeconds: 9, idempotencyKey: "k1" });
  });

  it("names the field or header at fault", () => {
    expect(() => switchboardOptions(req({ "x-switchboard-priority": "URGENT" }), {})).toThrow(expect.objectContaining({ extensions: expect.objectContaining({ field: "x-switchboard-priority" }) }));
    expect(() => switchboardOptions(req({}), { switchboard: { deadlineSeconds: 1.5 } })).toThrow(expect.objectContaining({ extensions: expect.objectContaining({ field: "switchboard.deadlineSeconds" }) }));
    expect(() => switchboardOptions(req({}), { switchboard: { nope: 1 } })).toThrow(/switchboard.nope/);
  });
});

describe("response headers", () => {
  it("name the generation, the model that served it, its cost, cache status and attempts", () => {
    const h = responseHeaders({ id: "g1", provider: "simulated", model: "auto", candidates: [{ model: "openai/x" }, { model: "simulated/text" }], costMicros: 1500, cached: false, cacheHit: null }, 2);
    expect(h).toEqual({
      "x-switchboard-generation-id": "g1", "x-switchboard-model": "simulated/text", "x-switchboard-provider": "simulated",
      "x-switchboard-cost-usd": "0.0015", "x-switchboard-cache": "MISS", "x-switchboard-attempts": "2",
    });
  });
});
