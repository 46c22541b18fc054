/** Logs, traces, the worker's metrics port, and alerting (monitoring webhook, anomaly checks). */
import { computed, int, num, oneOf, optUrl, str } from "../spec";
import type { Reader } from "../reader";

/** A top-level field: its doc is on its configSpec entry (config.ts), where hovers find it. */
export const metricsPort = int("METRICS_PORT", 9464, 0, 65535);

export const log = {
  /** pino level ("silent" in tests). */
  level: oneOf<string>("LOG_LEVEL", computed("`info`", (c) => (c.nodeEnv === "test" ? "silent" : "info")), ["fatal", "error", "warn", "info", "debug", "trace", "silent"]),
};

export const tracing = {
  /** OTLP/HTTP base URL of a collector (`/v1/traces` is appended); unset (default) = tracing off, no overhead. */
  endpoint: optUrl("OTEL_EXPORTER_OTLP_ENDPOINT", ["http:", "https:"]).map((u) => u?.replace(/\/$/, "")),
  /** `key=value,key2=value2` sent with every export (e.g. an auth token); default none. */
  headers: str("OTEL_EXPORTER_OTLP_HEADERS", "").map(otlpHeaders),
  /** `service.name` of every span. */
  serviceName: str("OTEL_SERVICE_NAME", "switchboard"),
  /** Share of new traces recorded, 0..1 (a sampled parent is always followed). */
  sampleRatio: num("OTEL_TRACES_SAMPLER_ARG", 1, 0, 1),
  /** Milliseconds between span export batches. */
  exportDelayMs: int("OTEL_BSP_SCHEDULE_DELAY", 5000, 1),
};

export const monitoring = {
  /** Every alert is POSTed here as JSON (5 s timeout, failures logged); default none. */
  webhookUrl: optUrl("MONITORING_WEBHOOK_URL", ["http:", "https:"]),
  anomaly: {
    /** How often one worker (Redis lock) compares each provider's recent window with its baseline (0 = off), ms. */
    intervalMs: int("ANOMALY_INTERVAL_MS", 60_000, 0),
    /** Standard deviations above the baseline that count as an anomaly. */
    stddev: num("ANOMALY_STDDEV", 3, 0),
    /** Attempts both windows need before anything is judged. */
    minSamples: int("ANOMALY_MIN_SAMPLES", 20, 1),
    /** A latency rise smaller than this never alerts (floor under the stddev rule), ms. */
    minDeviationMs: int("ANOMALY_MIN_DEVIATION_MS", 500, 0),
    /** An error-rate rise smaller than this (0..1, absolute) never alerts. */
    minErrorRateDeviation: num("ANOMALY_MIN_ERROR_RATE_DEVIATION", 0.1, 0, 1),
    /** The baseline is the last this-long less the recent window, ms (the last hour but its last 5 minutes). */
    baselineWindowMs: int("ANOMALY_BASELINE_WINDOW_MS", 3_600_000, 1000),
    /** The recent window judged against the baseline, ms (5 min). */
    recentWindowMs: int("ANOMALY_RECENT_WINDOW_MS", 300_000, 100),
  },
};

/** OTEL_EXPORTER_OTLP_HEADERS: `key=value` pairs separated by commas (values may be URL-encoded, as the OTel spec says). */
function otlpHeaders(raw: string, r: Reader): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of raw.split(",").map((x) => x.trim()).filter(Boolean)) {
    const eq = part.indexOf("=");
    if (eq <= 0) r.problem(`OTEL_EXPORTER_OTLP_HEADERS must be key=value pairs separated by commas (got "${part}")`);
    else {
      const v = part.slice(eq + 1).trim();
      try {
        out[part.slice(0, eq).trim()] = decodeURIComponent(v);
      } catch {
        out[part.slice(0, eq).trim()] = v;
      }
    }
  }
  return out;
}
