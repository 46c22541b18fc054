/**
 * One delivery attempt: sign the stored body with the endpoint's (or the user's callback)
 * secret at send time, POST it through the guarded sender, and record the attempt and the
 * delivery's new state in one statement. The caller (the queue worker) loads the delivery,
 * takes a slot under the concurrency caps for its destination, then maps the outcome to a
 * retry or an end.
 */
import type { DataSource } from "typeorm";
import type { Logger } from "../../observability/logger";
import type { SecretBox } from "./secret-box";
import { WebhookDeliveryStore, type PendingDelivery } from "./webhook-delivery.store";
import { webhookRetryDelayMs } from "./webhook-events";
import type { SendResult, WebhookSender } from "./webhook-sender";
import { SIGNATURE_HEADER, signatureHeader } from "./webhook-signature";

export type AttemptOutcome =
  | { kind: "delivered" }
  /** Failed, attempts remain: retry after the backoff. */
  | { kind: "retry"; error: string }
  /** Failed for good (last attempt, blocked address, endpoint deleted, no secret): stop. */
  | { kind: "final"; status: "FAILED" | "BLOCKED"; error: string }
  /** Nothing to do (unknown delivery, or not pending: a duplicate job). */
  | { kind: "skipped" };

export type { PendingDelivery } from "./webhook-delivery.store";

/** What the per-destination concurrency cap counts: an endpoint, or a callback URL's origin. */
export function deliveryDestination(d: Pick<PendingDelivery, "endpointId" | "url">): string {
  if (d.endpointId) return `e:${d.endpointId}`;
  try {
    return `o:${new URL(d.url).origin.toLowerCase()}`;
  } catch {
    return `o:${d.url.slice(0, 200)}`;
  }
}

export class WebhookDeliverer {
  private readonly store: WebhookDeliveryStore;

  constructor(
    ds: DataSource,
    private readonly sender: WebhookSender,
    private readonly box: SecretBox,
    private readonly backoffBaseMs: number,
    private readonly log: Logger,
    /** Counts each attempt by event and outcome (switchboard_webhook_deliveries_total). */
    private readonly observe: (event: string, outcome: string) => void = () => undefined,
  ) {
    this.store = new WebhookDeliveryStore(ds);
  }

  /** The delivery, when it is still PENDING (otherwise null: a duplicate job, nothing to do). */
  load(deliveryId: string): Promise<PendingDelivery | null> {
    return this.store.loadPending(deliveryId);
  }

  /**
   * @param row from {@link load}, just before (the caller holds its concurrency slot meanwhile)
   * @param failedSoFar attempts of this run already made; @param maxAttempts attempts per run.
   */
  async attempt(row: PendingDelivery, failedSoFar: number, maxAttempts: number): Promise<AttemptOutcome> {
    const deliveryId = row.id;
    const last = failedSoFar + 1 >= maxAttempts;

    let secret: string;
    try {
      if (row.target === "endpoint" && (!row.endpointSecret || row.endpointDeletedAt)) throw new Error("the endpoint was deleted");
      const stored = row.target === "endpoint" ? row.endpointSecret : row.callbackSecret;
      if (!stored) throw new Error("no callback secret (rotateCallbackSecret creates one)");
      secret = this.box.open(stored);
    } catch (err) {
      const error = (err as Error).message;
      await this.record(deliveryId, "FAILED", { outcome: "failed", statusCode: null, latencyMs: 0, excerpt: null, error }, null, row.event);
      return { kind: "final", status: "FAILED", error };
    }

    const result = await this.sender.send(row.url, row.body, {
      [SIGNATURE_HEADER]: signatureHeader(secret, row.body),
      "switchboard-event": row.event,
      "switchboard-delivery": deliveryId,
    });
    if (result.outcome === "delivered") {
      await this.record(deliveryId, "SUCCEEDED", result, null, row.event);
      return { kind: "delivered" };
    }
    const error = result.error ?? "failed";
    if (result.outcome === "blocked") {
      await this.record(deliveryId, "BLOCKED", result, null, row.event);
      this.log.warn({ deliveryId, url: row.url, error }, "webhook delivery blocked by the address guard");
      return { kind: "final", status: "BLOCKED", error };
    }
    if (last) {
      await this.record(deliveryId, "FAILED", result, null, row.event);
      return { kind: "final", status: "FAILED", error };
    }
    await this.record(deliveryId, "PENDING", result, new Date(Date.now() + webhookRetryDelayMs(failedSoFar + 1, this.backoffBaseMs)), row.event);
    return { kind: "retry", error };
  }

  /** The attempt row and the delivery's state, in one statement. */
  private async record(deliveryId: string, status: "PENDING" | "SUCCEEDED" | "FAILED" | "BLOCKED", r: SendResult, nextAttemptAt: Date | null, event = "unknown"): Promise<void> {
    const attemptStatus = r.outcome === "delivered" ? "SUCCEEDED" : r.outcome === "blocked" ? "BLOCKED" : "FAILED";
    this.observe(event, attemptStatus.toLowerCase());
    await this.store.recordAttempt(deliveryId, {
      status, attemptStatus, statusCode: r.statusCode, error: r.error?.slice(0, 1000) ?? null, latencyMs: r.latencyMs, excerpt: r.excerpt, nextAttemptAt,
    });
  }
}
