import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "./config";

describe("observability config", () => {
  it("tracing is off and anomaly checks run every minute by default", () => {
    const c = loadConfig({});
    expect(c.tracing).toEqual({ endpoint: undefined, headers: {}, serviceName: "switchboard", sampleRatio: 1, exportDelayMs: 5000 });
    expect(c.monitoring).toEqual({
      webhookUrl: undefined,
      anomaly: { intervalMs: 60_000, stddev: 3, minSamples: 20, minDeviationMs: 500, minErrorRateDeviation: 0.1, baselineWindowMs: 3_600_000, recentWindowMs: 300_000 },
    });
  });

  it("reads the OTLP endpoint, headers, sampler and the anomaly settings", () => {
    const c = loadConfig({
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318/", OTEL_EXPORTER_OTLP_HEADERS: "authorization=Bearer%20abc, x-team = ai",
      OTEL_SERVICE_NAME: "sb-api", OTEL_TRACES_SAMPLER_ARG: "0.25", OTEL_BSP_SCHEDULE_DELAY: "200",
      MONITORING_WEBHOOK_URL: "https://hooks.example.com/alerts", ANOMALY_STDDEV: "2.5", ANOMALY_MIN_SAMPLES: "5", ANOMALY_MIN_DEVIATION_MS: "100",
      ANOMALY_MIN_ERROR_RATE_DEVIATION: "0.05", ANOMALY_INTERVAL_MS: "0", ANOMALY_BASELINE_WINDOW_MS: "600000", ANOMALY_RECENT_WINDOW_MS: "60000",
    });
    expect(c.tracing).toEqual({ endpoint: "http://collector:4318", headers: { authorization: "Bearer abc", "x-team": "ai" }, serviceName: "sb-api", sampleRatio: 0.25, exportDelayMs: 200 });
    expect(c.monitoring.webhookUrl).toBe("https://hooks.example.com/alerts");
    expect(c.monitoring.anomaly).toEqual({ intervalMs: 0, stddev: 2.5, minSamples: 5, minDeviationMs: 100, minErrorRateDeviation: 0.05, baselineWindowMs: 600_000, recentWindowMs: 60_000 });
    // MONITORING_WEBHOOK_URL is not mistaken for a provider
    expect(c.providers.vendors).toEqual({});
  });

  it("reports malformed values together", () => {
    let err: unknown;
    try {
      loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "collector:4318", OTEL_EXPORTER_OTLP_HEADERS: "novalue", OTEL_TRACES_SAMPLER_ARG: "2", MONITORING_WEBHOOK_URL: "ftp://x", ANOMALY_RECENT_WINDOW_MS: "7200000" });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const msg = (err as Error).message;
    for (const v of ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_HEADERS", "OTEL_TRACES_SAMPLER_ARG", "MONITORING_WEBHOOK_URL", "ANOMALY_RECENT_WINDOW_MS"]) expect(msg).toContain(v);
  });
});
