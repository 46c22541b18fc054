import pino, { type Logger } from "pino";

export type { Logger };

export function createLogger(level: string, base: Record<string, unknown> = {}): Logger {
  return pino({
    level,
    base: { service: "switchboard", ...base },
    redact: { paths: ["req.headers.authorization", "authorization", "apiKey", "*.apiKey"], censor: "[redacted]" },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}
