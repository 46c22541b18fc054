import { GraphQLError } from "graphql";
import { microsToUsd } from "../../common/money";

export interface QuotaFigures {
  limitMicros: number;
  spentMicros: number;
  reservedMicros: number;
  periodEnd: Date;
}

/** The request does not fit in what is left of the budget: nothing was written or enqueued. */
export class QuotaExceededError extends GraphQLError {
  constructor(f: QuotaFigures, requestedMicros: number, message?: string, extra: Record<string, unknown> = {}) {
    super(
      message ??
        `This request may cost up to $${microsToUsd(requestedMicros)}, but only $${microsToUsd(Math.max(0, f.limitMicros - f.spentMicros - f.reservedMicros))} of your $${microsToUsd(f.limitMicros)} budget is left until ${f.periodEnd.toISOString()}`,
      {
        extensions: {
          code: "QUOTA_EXCEEDED",
          limitUsd: microsToUsd(f.limitMicros),
          spentUsd: microsToUsd(f.spentMicros),
          reservedUsd: microsToUsd(f.reservedMicros),
          requestedUsd: microsToUsd(requestedMicros),
          resetsAt: f.periodEnd.toISOString(),
          ...extra,
        },
      },
    );
    this.name = "QuotaExceededError";
  }
}

/** The request does not fit in what is left of its API key's own budget (the user's may still have room). */
export function keyQuotaError(apiKeyId: string, f: QuotaFigures, requestedMicros: number): QuotaExceededError {
  const left = Math.max(0, f.limitMicros - f.spentMicros - f.reservedMicros);
  return new QuotaExceededError(
    f, requestedMicros,
    `This request may cost up to $${microsToUsd(requestedMicros)}, but only $${microsToUsd(left)} of this API key's $${microsToUsd(f.limitMicros)} budget is left until ${f.periodEnd.toISOString()}`,
    { apiKeyId },
  );
}
