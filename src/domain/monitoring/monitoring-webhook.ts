/**
 * Sends every alert raised in this process to MONITORING_WEBHOOK_URL: one JSON POST, 5 s
 * timeout, no retries (the alert is also in the `alerts` table and on the subscription);
 * failures are logged and counted, never thrown.
 */
import type { Logger } from "../../observability/logger";
import type { Metrics } from "../../observability/metrics";
import type { AlertPayload } from "../../realtime/topics";

export class MonitoringWebhook {
  private readonly pending = new Set<Promise<void>>();

  constructor(
    private readonly url: string,
    private readonly log: Logger,
    private readonly metrics: Metrics,
    private readonly timeoutMs = 5000,
  ) {}

  send(alert: AlertPayload): Promise<void> {
    const p = this.post(alert).finally(() => this.pending.delete(p));
    this.pending.add(p);
    return p;
  }

  /** Waits for sends in flight (shutdown); each is bounded by the timeout. */
  async drain(): Promise<void> {
    await Promise.all([...this.pending]);
  }

  private async post(alert: AlertPayload): Promise<void> {
    try {
      const res = await fetch(this.url, {
        method: "POST",
        headers: { "content-type": "application/json", "user-agent": "switchboard-monitoring" },
        body: JSON.stringify({ type: "alert", alert }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      await res.arrayBuffer().catch(() => undefined); // free the socket
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      this.metrics.monitoringWebhook.inc({ outcome: "ok" });
    } catch (err) {
      this.metrics.monitoringWebhook.inc({ outcome: "error" });
      const e = err as Error;
      this.log.warn({ alertId: alert.id, kind: alert.kind, error: e.name === "TimeoutError" ? `no answer within ${this.timeoutMs} ms` : e.message }, "monitoring webhook delivery failed");
    }
  }
}
