/** Outgoing webhook deliveries: SSRF exemptions, retries, timeouts and concurrency caps. */
import { int, list } from "../spec";

export const webhooks = {
  /** Comma-separated host names, IPs or CIDR ranges exempt from the private-address (SSRF) guard (lower-cased); default none. */
  allowedHosts: list("WEBHOOK_ALLOWED_HOSTS").map((hosts) => hosts.map((h) => h.toLowerCase())),
  /** Attempts per delivery before it is FAILED. */
  maxAttempts: int("WEBHOOK_MAX_ATTEMPTS", 8, 1, 50),
  /** Retry n waits base × 2^n ms (8 attempts then span ≈ 24 h). */
  backoffBaseMs: int("WEBHOOK_BACKOFF_BASE_MS", 340_000, 0),
  /** Per attempt, connect to last byte read, ms. */
  timeoutMs: int("WEBHOOK_TIMEOUT_MS", 5000, 100, 60_000),
  /** Deliveries in flight per worker process. */
  concurrency: int("WEBHOOK_CONCURRENCY", 16, 1, 1000),
  /** Deliveries in flight to one endpoint (or one callbackUrl origin) across all workers, 0 = no cap. */
  endpointConcurrency: int("WEBHOOK_ENDPOINT_CONCURRENCY", 4, 0, 1000),
  /** One user's deliveries in flight across all workers, 0 = no cap. */
  userConcurrency: int("WEBHOOK_USER_CONCURRENCY", 8, 0, 10_000),
  /** The longest a webhook host name lookup may take (DNS asked directly, off the shared thread pool), ms. */
  dnsTimeoutMs: int("WEBHOOK_DNS_TIMEOUT_MS", 2000, 50, 60_000),
};
