/**
 * Webhook event types and the JSON bodies sent for them. A body is built once per event
 * and stored with each delivery, so retries and redeliveries send the very same bytes;
 * its `id` is the event's, the same for every endpoint and attempt (receivers dedupe on it).
 */
import type { GenerationEntity } from "../../db/entities/generation.entity";
import { microsToUsd } from "../../common/money";
import type { QuotaView } from "../quotas/quota.service";

export const WEBHOOK_EVENTS = ["generation.succeeded", "generation.failed", "generation.cancelled", "quota.warning"] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

/** The generation events a per-generation callbackUrl receives: every terminal one. */
export const TERMINAL_EVENTS: Record<"SUCCEEDED" | "FAILED" | "CANCELLED", WebhookEvent> = {
  SUCCEEDED: "generation.succeeded",
  FAILED: "generation.failed",
  CANCELLED: "generation.cancelled",
};

/** Retry n (n = 1 … attempts − 1) waits base × 2^n: with 8 attempts and base 340 s, ≈ 24 h in all. */
export function webhookRetryDelayMs(failedAttempts: number, baseMs: number): number {
  return baseMs * 2 ** failedAttempts;
}

const iso = (d: Date | string | null | undefined): string | null => (d ? new Date(d).toISOString() : null);

/** `{ id, type, createdAt, data: { generation } }`: media are listed without URLs (query `generation(id)` for fresh signed ones). */
export function generationBody(eventId: string, event: WebhookEvent, g: GenerationEntity, at = new Date()): string {
  const o = g.output;
  return JSON.stringify({
    id: eventId,
    type: event,
    createdAt: at.toISOString(),
    data: {
      generation: {
        id: g.id,
        status: g.status,
        modality: g.modality,
        model: g.model,
        provider: g.provider,
        providerModel: g.providerModel,
        cached: g.cached,
        costUsd: g.costMicros === null || g.costMicros === undefined ? null : microsToUsd(g.costMicros),
        error: g.errorCode ? { code: g.errorCode, message: g.errorMessage ?? "" } : null,
        output: o
          ? {
              text: o.text ?? null,
              usage: o.usage ?? null,
              finishReason: o.finishReason ?? null,
              files: (o.files ?? []).map(({ mimeType, sizeBytes, width, height, durationSeconds }) => ({ mimeType, sizeBytes, width, height, durationSeconds })),
              embeddingDimensions: o.embedding?.length ?? null,
            }
          : null,
        createdAt: iso(g.createdAt),
        completedAt: iso(g.completedAt),
      },
    },
  });
}

/** `{ id, type: "quota.warning", createdAt, data: { quota } }`. */
export function quotaWarningBody(eventId: string, q: QuotaView, warnRatio: number, at = new Date()): string {
  return JSON.stringify({
    id: eventId,
    type: "quota.warning",
    createdAt: at.toISOString(),
    data: {
      quota: {
        userId: q.userId,
        tier: q.tier,
        limitUsd: microsToUsd(q.limitMicros),
        spentUsd: microsToUsd(q.spentMicros),
        reservedUsd: microsToUsd(q.reservedMicros),
        remainingUsd: microsToUsd(Math.max(0, q.limitMicros - q.spentMicros - q.reservedMicros)),
        warnRatio,
        periodStart: q.periodStart.toISOString(),
        periodEnd: q.periodEnd.toISOString(),
      },
    },
  });
}
