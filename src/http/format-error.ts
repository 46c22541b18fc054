import type { GraphQLFormattedError } from "graphql";
import { isStoreUnavailable, STORE_RETRY_AFTER_SECONDS } from "./unavailable";

export const KNOWN_CODES = new Set([
  "UNAUTHENTICATED", "FORBIDDEN", "BAD_USER_INPUT", "NOT_FOUND", "CONFLICT", "QUOTA_EXCEEDED", "RATE_LIMITED",
  "QUEUE_FULL", "SERVICE_UNAVAILABLE", "GRAPHQL_VALIDATION_FAILED", "GRAPHQL_PARSE_FAILED", "BAD_REQUEST",
  "PERSISTED_QUERY_NOT_FOUND", "PERSISTED_QUERY_NOT_SUPPORTED", "OPERATION_RESOLUTION_FAILURE", "TOO_MANY_SUBSCRIPTIONS",
  "PERSISTED_QUERY_HASH_MISMATCH", "CONTENT_POLICY",
]);

interface ValidationErrorLike {
  property: string;
  constraints?: Record<string, string>;
  children?: ValidationErrorLike[];
}

function flatten(errors: ValidationErrorLike[], path: string[] = []): string[] {
  return errors.flatMap((e) => {
    const here = [...path, e.property];
    const own = Object.values(e.constraints ?? {}).map((m) => `${here.join(".")}: ${m}`);
    return [...own, ...flatten(e.children ?? [], here)];
  });
}

/** The path of the first field that failed validation ("image.width"), as domain errors name theirs. */
function firstField(errors: ValidationErrorLike[], path: string[] = []): string | undefined {
  for (const e of errors) {
    const here = [...path, e.property];
    if (Object.keys(e.constraints ?? {}).length) return here.join(".");
    const inner = firstField(e.children ?? [], here);
    if (inner) return inner;
  }
  return undefined;
}

/**
 * Clear messages for validation errors; a store outage is SERVICE_UNAVAILABLE with
 * retryAfterSeconds (the errors plugin makes it HTTP 503); internal errors hidden in production
 * (the operations plugin logs them with the request id, which clients get in a response header).
 */
export function createFormatError(opts: { production: boolean }) {
  return (formatted: GraphQLFormattedError, error?: unknown): GraphQLFormattedError => {
    const ext = { ...(formatted.extensions ?? {}) } as Record<string, unknown>;
    const code = ext.code as string | undefined;
    if ((!code || code === "INTERNAL_SERVER_ERROR") && isStoreUnavailable(error))
      return {
        message: `A data store is unavailable; retry in ${STORE_RETRY_AFTER_SECONDS}s`,
        locations: formatted.locations,
        path: formatted.path,
        extensions: { code: "SERVICE_UNAVAILABLE", retryAfterSeconds: STORE_RETRY_AFTER_SECONDS },
      };
    if (Array.isArray(ext.validationErrors)) {
      const lines = flatten(ext.validationErrors as ValidationErrorLike[]);
      const field = firstField(ext.validationErrors as ValidationErrorLike[]);
      return { ...formatted, message: `Invalid input: ${lines.join("; ")}`, extensions: { code: "BAD_USER_INPUT", ...(field ? { field } : {}), fields: lines } };
    }
    delete ext.stacktrace;
    if (code && KNOWN_CODES.has(code)) return { ...formatted, extensions: ext };
    return {
      message: opts.production ? "Internal server error" : formatted.message,
      locations: formatted.locations,
      path: formatted.path,
      extensions: { code: code ?? "INTERNAL_SERVER_ERROR" },
    };
  };
}
