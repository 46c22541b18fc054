import pino, { type Logger } from "pino";
import { traceLogFields } from "./tracing";

export type { Logger };

/**
 * Structured JSON logs. Lines about a request carry its `requestId` (and `generationId` where
 * known); with `traceIds` (tracing on) every line logged inside a span also carries `traceId`
 * and `spanId`, so logs and traces join.
 */
export function createLogger(level: string, base: Record<string, unknown> = {}, opts: { traceIds?: boolean } = {}): Logger {
  return pino({
    level,
    base: { service: "switchboard", ...base },
    ...(opts.traceIds ? { mixin: traceLogFields } : {}),
    redact: { paths: ["req.headers.authorization", "authorization", "apiKey", "*.apiKey"], censor: "[redacted]" },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}
