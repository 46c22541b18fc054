/**
 * Recognises "the database (or Redis) is unreachable" among the errors a request can meet, so it
 * is answered SERVICE_UNAVAILABLE with a retry hint (HTTP 503) instead of an internal error.
 */

/** What clients are told to wait before retrying after a store outage. */
export const STORE_RETRY_AFTER_SECONDS = 5;

/** Node socket errors: the store's host refused, dropped or never answered. */
const SOCKET_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "EHOSTUNREACH", "ENETUNREACH", "EAI_AGAIN", "ENOTFOUND"]);
/** SQLSTATE: admin/crash shutdown, cannot connect now, too many connections (class 08 is matched as a prefix). */
const SQLSTATES = new Set(["57P01", "57P02", "57P03", "53300"]);
/**
 * pg and pg-pool raise these as plain Errors without a code; their text is all there is to go on.
 * TypeORM's "Query runner already released": its runner was released when the connection under it
 * died mid-transaction (chaos: pg_terminate_backend), and the transaction's next statement meets it.
 */
const PG_UNTYPED = /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Query runner already released)/;

export function isStoreUnavailable(err: unknown, depth = 0): boolean {
  if (!err || typeof err !== "object" || depth > 5) return false;
  const e = err as { code?: unknown; message?: unknown; originalError?: unknown; driverError?: unknown; cause?: unknown; errors?: unknown };
  if (typeof e.code === "string" && (SOCKET_CODES.has(e.code) || SQLSTATES.has(e.code) || /^08/.test(e.code))) return true;
  if (typeof e.message === "string" && PG_UNTYPED.test(e.message)) return true;
  if (Array.isArray(e.errors) && e.errors.some((x) => isStoreUnavailable(x, depth + 1))) return true; // AggregateError (IPv4 + IPv6)
  return [e.originalError, e.driverError, e.cause].some((x) => x !== undefined && isStoreUnavailable(x, depth + 1));
}
