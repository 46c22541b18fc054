import { describe, expect, it } from "vitest";
import { histogramOf } from "./histogram";
import { emptyAggregate, sortGroups, statsFrom, topModels, type MetricsGroupView } from "./metrics-view";

describe("statsFrom", () => {
  it("derives rates over finished generations and orders errors by count", () => {
    const s = statsFrom(
      { ...emptyAggregate(), requests: 12, succeeded: 7, failed: 3, cancelled: 1, inProgress: 1, cacheHits: 1 },
      new Map([["B", 1], ["A", 1], ["C", 2]]),
    );
    expect(s.successRate).toBe(7 / 11);
    expect(s.failureRate).toBe(3 / 11);
    expect(s.cacheHitRate).toBe(1 / 12);
    expect(s.errors).toEqual([{ code: "C", count: 2 }, { code: "A", count: 1 }, { code: "B", count: 1 }]);
  });

  it("gives zero rates and null percentiles when there is nothing", () => {
    const s = statsFrom(emptyAggregate(), undefined);
    expect([s.successRate, s.failureRate, s.cacheHitRate]).toEqual([0, 0, 0]);
    expect(s.latencyMs).toEqual({ samples: 0, p50: null, p95: null, p99: null });
  });

  it("reads exact percentiles or histograms", () => {
    expect(statsFrom({ ...emptyAggregate(), latency: { exact: [1, 2, 3], samples: 3 } }, undefined).latencyMs).toEqual({ samples: 3, p50: 1, p95: 2, p99: 3 });
    expect(statsFrom({ ...emptyAggregate(), latency: { histogram: histogramOf([120]) } }, undefined).latencyMs).toEqual({ samples: 1, p50: 125, p95: 125, p99: 125 });
  });
});

describe("ordering", () => {
  const g = (key: string | null, requests: number, costMicros: number): MetricsGroupView => ({ key, stats: { ...statsFrom(emptyAggregate(), undefined), requests, costMicros } });

  it("puts the busiest group first, ties by key with null last; time keys in order", () => {
    expect(sortGroups([g("b", 2, 0), g(null, 5, 0), g("a", 2, 0), g("c", 9, 0), g(null, 2, 0)], "PROVIDER").map((x) => x.key)).toEqual(["c", null, "a", "b", null]);
    expect(sortGroups([g("2024-01-02", 1, 0), g("2024-01-01", 5, 0)], "DAY").map((x) => x.key)).toEqual(["2024-01-01", "2024-01-02"]);
  });

  it("ranks models by use and by cost", () => {
    const t = topModels([g("x", 1, 50), g("y", 6, 10), g("z", 2, 20)]);
    expect(t.byUse.map((x) => x.key)).toEqual(["y", "z", "x"]);
    expect(t.byCost.map((x) => x.key)).toEqual(["x", "z", "y"]);
  });
});
