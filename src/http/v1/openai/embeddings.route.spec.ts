import { describe, expect, it } from "vitest";
import type { GenerationView } from "../../../realtime/generation-event";
import { combinedHeaders } from "./embeddings.route";

const gen = (id: string, costMicros: number | null, cached = false) =>
  ({ id, provider: "openai", model: "openai/text-embedding-3-small", candidates: [{ model: "openai/text-embedding-3-small" }], costMicros, cached, cacheHit: null }) as unknown as GenerationView;

describe("combinedHeaders (one request, several embedding generations)", () => {
  it("one generation: its own headers", () => {
    expect(combinedHeaders([gen("a", 1)], [1])).toMatchObject({ "x-switchboard-generation-id": "a", "x-switchboard-attempts": "1", "x-switchboard-cache": "MISS" });
  });

  it("several: ids in input order, cost and attempts summed, MIXED cache", () => {
    const h = combinedHeaders([gen("a", 10), gen("b", 20, true), gen("c", 0)], [1, 0, 2]);
    expect(h).toMatchObject({
      "x-switchboard-generation-id": "a,b,c", "x-switchboard-cost-usd": "0.00003", "x-switchboard-attempts": "3", "x-switchboard-cache": "MIXED",
      "x-switchboard-provider": "openai", "x-switchboard-model": "openai/text-embedding-3-small",
    });
  });

  it("leaves the cost out until every generation's is known", () => {
    expect(combinedHeaders([gen("a", 10), gen("b", null)], [1, 1])["x-switchboard-cost-usd"]).toBeUndefined();
  });
});
