import { describe, expect, it } from "vitest";
import { describeFinding, judgeErrorRate, judgeLatency, type AnomalyPolicy, type WindowStats } from "./anomaly-detector";

const policy: AnomalyPolicy = { stddev: 3, minSamples: 20, minDeviationMs: 500, minErrorRateDeviation: 0.1 };
const w = (o: Partial<WindowStats>): WindowStats => ({ latencyN: 100, latencyMeanMs: 1000, latencyStddevMs: 100, calls: 100, errors: 2, ...o });

describe("judgeLatency", () => {
  it("flags a recent mean above baseline + 3σ", () => {
    // σ = 300: 3σ = 900 is above the 500 ms floor → threshold 1900
    expect(judgeLatency(w({ latencyN: 30, latencyMeanMs: 1800 }), w({ latencyStddevMs: 300 }), policy)).toMatchObject({ judged: true, anomalous: false, threshold: 1900 });
    expect(judgeLatency(w({ latencyN: 30, latencyMeanMs: 2000 }), w({ latencyStddevMs: 300 }), policy)).toMatchObject({ judged: true, anomalous: true, observed: 2000, expected: 1000 });
  });

  it("never alerts below the floor, however steady the baseline", () => {
    const steady = w({ latencyStddevMs: 1 });
    expect(judgeLatency(w({ latencyMeanMs: 1400 }), steady, policy)).toMatchObject({ anomalous: false, threshold: 1500 });
    expect(judgeLatency(w({ latencyMeanMs: 1501 }), steady, policy).anomalous).toBe(true);
  });

  it("says nothing with too few samples in either window", () => {
    expect(judgeLatency(w({ latencyN: 19, latencyMeanMs: 9000 }), w({}), policy)).toMatchObject({ judged: false, anomalous: false });
    expect(judgeLatency(w({ latencyMeanMs: 9000 }), w({ latencyN: 5 }), policy)).toMatchObject({ judged: false, anomalous: false });
  });

  it("constant latency is normal", () => {
    expect(judgeLatency(w({}), w({}), policy)).toMatchObject({ judged: true, anomalous: false });
  });
});

describe("judgeErrorRate", () => {
  it("flags a rate above baseline + 3 binomial σ and the floor", () => {
    // p0 = 0.02, n = 100: σ = 0.014, 3σ = 0.042 < floor 0.1 → threshold 0.12
    const f = judgeErrorRate(w({ errors: 13 }), w({}), policy);
    expect(f.threshold).toBeCloseTo(0.12);
    expect(f).toMatchObject({ judged: true, anomalous: true, observed: 0.13, expected: 0.02 });
    expect(judgeErrorRate(w({ errors: 12 }), w({}), policy).anomalous).toBe(false);
  });

  it("uses 3σ when it is above the floor (noisy baseline, small recent sample)", () => {
    // p0 = 0.5, n = 20: σ = 0.112, 3σ = 0.335 → threshold 0.835
    const f = judgeErrorRate(w({ calls: 20, errors: 16 }), w({ calls: 100, errors: 50 }), policy);
    expect(f.threshold).toBeCloseTo(0.5 + 3 * Math.sqrt(0.25 / 20));
    expect(f.anomalous).toBe(false);
    expect(judgeErrorRate(w({ calls: 20, errors: 17 }), w({ calls: 100, errors: 50 }), policy).anomalous).toBe(true);
  });

  it("needs enough calls in both windows", () => {
    expect(judgeErrorRate(w({ calls: 10, errors: 10 }), w({}), policy).judged).toBe(false);
    expect(judgeErrorRate(w({ errors: 100 }), w({ calls: 0, errors: 0 }), policy).judged).toBe(false);
  });
});

describe("describeFinding", () => {
  it("names the provider, the figures and the windows", () => {
    const f = judgeLatency(w({ latencyMeanMs: 2500, latencyN: 42 }), w({ latencyN: 400 }), policy);
    expect(describeFinding("openai", f, { recentMs: 300_000, baselineMs: 3_300_000 })).toBe(
      "openai latency is 2500 ms on average over the last 5 min (42 calls), against a baseline of 1000 ms ± 100 ms (400 calls); threshold 1500 ms",
    );
    const e = judgeErrorRate(w({ errors: 40 }), w({}), policy);
    expect(describeFinding("groq", e, { recentMs: 4000, baselineMs: 60_000 })).toMatch(/^groq error rate is 40% over the last 4 s \(100 calls\), against a baseline of 2% \(100 calls\); threshold 12%$/);
  });
});
