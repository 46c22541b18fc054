import pino, { type Logger } from "pino";
import pretty from "pino-pretty";
import { traceLogFields } from "./tracing";

export type { Logger };

export interface LoggerOptions {
  /** Tracing is on: lines logged inside a span carry `trace_id`, `span_id` and `trace_flags`. */
  traceIds?: boolean;
  /** Human-readable, coloured lines (pino-pretty) instead of JSON: development on a terminal. */
  pretty?: boolean;
}

/** Pretty logs where a person reads them: NODE_ENV=development and stdout is a terminal. JSON everywhere else. */
export const wantsPrettyLogs = (env: string): boolean => env === "development" && !!process.stdout.isTTY;

/**
 * Structured JSON logs. Lines about a request carry its `requestId` (and `generationId` where
 * known); with `traceIds` (tracing on) every line logged inside a span also carries `trace_id`,
 * `span_id` and `trace_flags`, so logs and traces join.
 */
export function createLogger(level: string, base: Record<string, unknown> = {}, opts: LoggerOptions = {}): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { service: "switchboard", ...base },
    ...(opts.traceIds ? { mixin: traceLogFields } : {}),
    redact: { paths: ["req.headers.authorization", "authorization", "apiKey", "*.apiKey"], censor: "[redacted]" },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (!opts.pretty) return pino(options);
  // In-process and synchronous (no worker thread): lines stay in order with the CLI's own output.
  return pino(options, pretty({ colorize: true, sync: true, translateTime: "SYS:HH:MM:ss.l", ignore: "pid,hostname,service" }));
}
