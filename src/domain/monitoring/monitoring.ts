/**
 * Monitoring, wired once per process: the health report, metrics fed from generation events
 * and alerts, key pool gauges sampled at scrape time, the monitoring webhook, and (workers)
 * the periodic anomaly check.
 */
import type { Redis } from "ioredis";
import type { DataSource } from "typeorm";
import type { AppConfig } from "../../config/config";
import type { Logger } from "../../observability/logger";
import type { Metrics } from "../../observability/metrics";
import type { GenerationEvents } from "../generations/generation-events";
import type { AlertsService } from "../providers/alerts.service";
import type { ProviderService } from "../providers/provider.service";
import { AnomalyMonitor } from "./anomaly-monitor";
import { observeGenerations } from "./generation-metrics";
import { HealthService, type QueueDepth } from "./health.service";
import { sampleKeyPools } from "./key-pool-metrics";
import { MonitoringWebhook } from "./monitoring-webhook";

export interface MonitoringDeps {
  ds: DataSource;
  redis: Redis;
  prefix: string;
  events: GenerationEvents;
  alerts: AlertsService;
  providers: ProviderService;
  metrics: Metrics;
  log: Logger;
  queueDepth: QueueDepth;
  config: AppConfig["monitoring"];
}

export class Monitoring {
  readonly health: HealthService;
  readonly anomalies: AnomalyMonitor;
  private readonly webhook?: MonitoringWebhook;

  constructor(private readonly d: MonitoringDeps) {
    this.health = new HealthService(d.ds, d.redis, d.queueDepth, d.providers);
    this.anomalies = new AnomalyMonitor(d.ds, d.redis, d.prefix, d.alerts, d.config.anomaly, d.log);
    if (d.config.webhookUrl) this.webhook = new MonitoringWebhook(d.config.webhookUrl, d.log, d.metrics);
    observeGenerations(d.events, d.metrics);
    d.alerts.onRaised((a) => {
      d.metrics.alertsRaised.inc({ kind: a.kind, provider: a.provider ?? "" });
      void this.webhook?.send(a);
    });
  }

  /** Workers: compare each provider's recent latency and error rate with its baseline, periodically. */
  startAnomalyChecks(): void {
    this.anomalies.start();
  }

  /** Refreshes the key pool gauges (called before each /metrics scrape). */
  sampleKeyPools(): Promise<void> {
    return sampleKeyPools(this.d.ds, this.d.providers, this.d.metrics);
  }

  async stop(): Promise<void> {
    await this.anomalies.stop();
    await this.webhook?.drain();
  }
}
