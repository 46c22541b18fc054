/**
 * Judges one provider's recent window against its rolling baseline (pure: the numbers come
 * from generation_attempts, see anomaly-monitor.ts). Latency: the recent mean against the
 * baseline mean plus `stddev` standard deviations of the baseline, never less than a floor in
 * ms. Error rate: the recent share of failed calls against the baseline share plus `stddev`
 * binomial standard deviations at the recent sample size, never less than a floor.
 */

/** Aggregates of one window of upstream attempts. */
export interface WindowStats {
  /** Successful calls with a latency. */
  latencyN: number;
  latencyMeanMs: number;
  latencyStddevMs: number;
  /** Finished calls (succeeded, failed, unusable output). */
  calls: number;
  /** Calls that failed for the provider's reasons (not the request's: invalid_request, content_policy, cancelled). */
  errors: number;
}

export interface AnomalyPolicy {
  /** Standard deviations above the baseline that count as an anomaly (ANOMALY_STDDEV). */
  stddev: number;
  /** Samples each window needs before it is judged (ANOMALY_MIN_SAMPLES). */
  minSamples: number;
  /** Smallest latency rise, ms, that can alert (ANOMALY_MIN_DEVIATION_MS). */
  minDeviationMs: number;
  /** Smallest error-rate rise, 0..1 absolute, that can alert (ANOMALY_MIN_ERROR_RATE_DEVIATION). */
  minErrorRateDeviation: number;
}

export type AnomalyKind = "latency_anomaly" | "error_rate_anomaly";

export interface Finding {
  kind: AnomalyKind;
  /** False when a window has too few samples: nothing can be said (an ongoing episode goes on). */
  judged: boolean;
  anomalous: boolean;
  /** Recent mean latency (ms) or error rate (0..1). */
  observed: number;
  /** Baseline mean latency (ms) or error rate. */
  expected: number;
  /** Baseline standard deviation (ms), or the binomial one of the rate at the recent sample size. */
  deviation: number;
  /** What `observed` had to exceed. */
  threshold: number;
  samples: { recent: number; baseline: number };
}

export function judgeLatency(recent: WindowStats, baseline: WindowStats, p: AnomalyPolicy): Finding {
  const threshold = baseline.latencyMeanMs + Math.max(p.stddev * baseline.latencyStddevMs, p.minDeviationMs);
  const judged = recent.latencyN >= p.minSamples && baseline.latencyN >= p.minSamples;
  return {
    kind: "latency_anomaly", judged, anomalous: judged && recent.latencyMeanMs > threshold,
    observed: recent.latencyMeanMs, expected: baseline.latencyMeanMs, deviation: baseline.latencyStddevMs, threshold,
    samples: { recent: recent.latencyN, baseline: baseline.latencyN },
  };
}

export function judgeErrorRate(recent: WindowStats, baseline: WindowStats, p: AnomalyPolicy): Finding {
  const judged = recent.calls >= p.minSamples && baseline.calls >= p.minSamples;
  const p0 = baseline.calls ? baseline.errors / baseline.calls : 0;
  const p1 = recent.calls ? recent.errors / recent.calls : 0;
  const sigma = recent.calls ? Math.sqrt((p0 * (1 - p0)) / recent.calls) : 0;
  const threshold = p0 + Math.max(p.stddev * sigma, p.minErrorRateDeviation);
  return {
    kind: "error_rate_anomaly", judged, anomalous: judged && p1 > threshold,
    observed: p1, expected: p0, deviation: sigma, threshold,
    samples: { recent: recent.calls, baseline: baseline.calls },
  };
}

const pct = (x: number) => `${Math.round(x * 1000) / 10}%`;
const ms = (x: number) => `${Math.round(x)} ms`;

/** One line an operator can act on. */
export function describeFinding(provider: string, f: Finding, windows: { recentMs: number; baselineMs: number }): string {
  const recent = `the last ${windows.recentMs >= 60_000 ? `${Math.round(windows.recentMs / 60_000)} min` : `${windows.recentMs / 1000} s`}`;
  if (f.kind === "latency_anomaly")
    return `${provider} latency is ${ms(f.observed)} on average over ${recent} (${f.samples.recent} calls), against a baseline of ${ms(f.expected)} ± ${ms(f.deviation)} (${f.samples.baseline} calls); threshold ${ms(f.threshold)}`;
  return `${provider} error rate is ${pct(f.observed)} over ${recent} (${f.samples.recent} calls), against a baseline of ${pct(f.expected)} (${f.samples.baseline} calls); threshold ${pct(f.threshold)}`;
}
