/**
 * Alerts: a row in `alerts` and a broadcast event. Raised here for disabled provider keys;
 * budget warnings and anomalies raise them too.
 */
import type { DataSource } from "typeorm";
import type { EventBus } from "../../realtime/event-bus";
import { Topic, type AlertPayload } from "../../realtime/topics";
import { AlertStore, type AlertInit } from "./alert.store";

export type { AlertInit } from "./alert.store";

export class AlertsService {
  private readonly hooks: ((a: AlertPayload) => void)[] = [];
  private readonly store: AlertStore;

  constructor(ds: DataSource, private readonly bus: EventBus) {
    this.store = new AlertStore(ds);
  }

  /** Runs `fn` in the process that raised an alert, once per alert (the monitoring webhook, metrics). */
  onRaised(fn: (a: AlertPayload) => void): void {
    this.hooks.push(fn);
  }

  async raise(a: AlertInit): Promise<AlertPayload> {
    const alert = await this.store.insert(a);
    await this.bus.publish(Topic.ALERT_RAISED, undefined, alert);
    for (const fn of this.hooks) {
      try {
        fn(alert);
      } catch {
        /* a hook never breaks raising the alert */
      }
    }
    return alert;
  }

  list(opts: { first: number; kind?: string; provider?: string }): Promise<AlertPayload[]> {
    return this.store.list(opts);
  }
}
