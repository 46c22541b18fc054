/**
 * Anomaly detection over generation_attempts: every ANOMALY_INTERVAL_MS one worker (whichever
 * takes the Redis lock) compares each provider's recent window with the baseline before it
 * and raises an alert when latency or the error rate deviates. One alert per provider and
 * kind per episode: the episode is a Redis key set when it starts, kept alive while the
 * anomaly lasts and deleted once a judged window is normal again.
 */
import type { Redis } from "ioredis";
import type { DataSource } from "typeorm";
import type { AppConfig } from "../../config/config";
import type { Logger } from "../../observability/logger";
import type { AlertPayload } from "../../realtime/topics";
import type { AlertsService } from "../providers/alerts.service";
import { describeFinding, judgeErrorRate, judgeLatency, type Finding, type WindowStats } from "./anomaly-detector";
import { MonitoringStore } from "./monitoring.store";

export type AnomalyConfig = AppConfig["monitoring"]["anomaly"];

const EMPTY: WindowStats = { latencyN: 0, latencyMeanMs: 0, latencyStddevMs: 0, calls: 0, errors: 0 };

export class AnomalyMonitor {
  private timer?: NodeJS.Timeout;
  private running?: Promise<unknown>;
  private readonly store: MonitoringStore;

  constructor(
    ds: DataSource,
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly alerts: AlertsService,
    private readonly cfg: AnomalyConfig,
    private readonly log: Logger,
  ) {
    this.store = new MonitoringStore(ds);
  }

  /** Ticks every intervalMs in this process; only the holder of the lock does the work. */
  start(): void {
    if (this.cfg.intervalMs <= 0 || this.timer) return;
    this.timer = setInterval(() => {
      if (!this.running) this.running = this.tick().catch((err) => this.log.warn({ err }, "anomaly check failed")).finally(() => (this.running = undefined));
    }, this.cfg.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** One tick: takes the lock (for a little less than the interval, so the next tick can take it) and checks. */
  async tick(): Promise<AlertPayload[]> {
    const ttl = Math.max(50, Math.floor(this.cfg.intervalMs * 0.8));
    if (!(await this.redis.set(`${this.prefix}:anomaly:lock`, "1", "PX", ttl, "NX"))) return [];
    return this.check();
  }

  /** Judges every provider with attempts in the baseline window; returns the alerts raised. */
  async check(): Promise<AlertPayload[]> {
    const rows = await this.store.attemptWindows(this.cfg.baselineWindowMs, this.cfg.recentWindowMs);
    const byProvider = new Map<string, { recent: WindowStats; baseline: WindowStats }>();
    for (const r of rows) {
      const w = byProvider.get(r.provider) ?? { recent: EMPTY, baseline: EMPTY };
      w[r.recent ? "recent" : "baseline"] = {
        latencyN: Number(r.latency_n), latencyMeanMs: Number(r.latency_mean ?? 0), latencyStddevMs: Number(r.latency_stddev ?? 0),
        calls: Number(r.calls), errors: Number(r.errors),
      };
      byProvider.set(r.provider, w);
    }
    const raised: AlertPayload[] = [];
    for (const [provider, w] of byProvider) {
      for (const f of [judgeLatency(w.recent, w.baseline, this.cfg), judgeErrorRate(w.recent, w.baseline, this.cfg)]) {
        const a = await this.episode(provider, f);
        if (a) raised.push(a);
      }
    }
    return raised;
  }

  private async episode(provider: string, f: Finding): Promise<AlertPayload | undefined> {
    const key = `${this.prefix}:anomaly:${f.kind}:${provider}`;
    if (!f.judged) return undefined; // too few calls to say anything: an ongoing episode goes on
    if (!f.anomalous) {
      if (await this.redis.del(key)) this.log.info({ provider, kind: f.kind, observed: f.observed, threshold: f.threshold }, "anomaly over");
      return undefined;
    }
    // The episode outlives a quiet spell up to one baseline window; every anomalous tick extends it.
    const ttl = this.cfg.baselineWindowMs;
    if (!(await this.redis.set(key, String(Date.now()), "PX", ttl, "NX"))) {
      await this.redis.pexpire(key, ttl);
      return undefined;
    }
    const windows = { recentMs: this.cfg.recentWindowMs, baselineMs: this.cfg.baselineWindowMs - this.cfg.recentWindowMs };
    const message = describeFinding(provider, f, windows);
    this.log.warn({ provider, kind: f.kind, observed: f.observed, threshold: f.threshold }, message);
    return this.alerts.raise({
      kind: f.kind, severity: "warning", provider, message,
      details: {
        observed: round(f.observed), baseline: round(f.expected), deviation: round(f.deviation), threshold: round(f.threshold),
        unit: f.kind === "latency_anomaly" ? "ms" : "ratio", samples: f.samples, windowsMs: windows, stddevs: this.cfg.stddev,
      },
    });
  }
}

const round = (x: number) => Math.round(x * 10_000) / 10_000;
