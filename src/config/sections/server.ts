/** The API process: NODE_ENV, the HTTP/WebSocket server, API key auth and the admin bootstrap. */
import { bool, computed, int, oneOf, str, url } from "../spec";

/** A top-level field: its doc is on its configSpec entry (config.ts), where hovers find it. */
export const nodeEnv = oneOf("NODE_ENV", "development", ["development", "production", "test"] as const);

export const http = {
  /** HTTP + WebSocket port of `serve`. */
  port: int("PORT", 4000, 0, 65535),
  /** Bind address. */
  host: str("HOST", "0.0.0.0"),
  /** Base for file URLs handed to clients (a trailing slash is dropped). */
  publicUrl: url("PUBLIC_URL", computed("`http://localhost:$PORT`", (c) => `http://localhost:${c.port}`), ["http:", "https:"]).map((u) => u.replace(/\/$/, "")),
  /** Comma-separated allowed origins, "*" for any. */
  corsOrigins: str("CORS_ORIGINS", "*").map((cors): string[] | "*" => (cors === "*" ? "*" : cors.split(",").map((s) => s.trim()).filter(Boolean))),
  /** Maximum request body, bytes (1 MiB). */
  bodyLimitBytes: int("BODY_LIMIT_BYTES", 1024 * 1024, 1024),
  /** GraphQL introspection and the Sandbox landing page: on outside production. */
  introspection: bool("GRAPHQL_INTROSPECTION", computed("on outside production", (c) => c.nodeEnv !== "production")),
  /** How long running jobs and sockets get on SIGTERM, ms. */
  shutdownGraceMs: int("SHUTDOWN_GRACE_MS", 10_000),
  /** Proxies in front of the API whose X-Forwarded-For is trusted for the client address (per-address limits); 0: the socket's peer address. */
  trustProxyHops: int("TRUST_PROXY_HOPS", 0, 0, 10),
};

export const auth = {
  /** How long a resolved API key is cached per node, ms. */
  cacheTtlMs: int("AUTH_CACHE_TTL_MS", 30_000),
  /** How long a key prefix no key has is remembered as unknown per node (no database lookup), ms. */
  unknownPrefixTtlMs: int("AUTH_UNKNOWN_PREFIX_TTL_MS", 10_000),
  /**
   * GraphQL requests without a valid API key (none, unknown or revoked) allowed per client address
   * per minute, across nodes; beyond it RATE_LIMITED before any key lookup or parse.
   */
  unauthenticatedPerMinute: int("UNAUTHENTICATED_PER_MINUTE", 30, 1),
  /**
   * How long a Bull Board link (the admin-only `bullBoardLink` mutation: /admin/queues/s/<signed
   * token>/) keeps working, seconds (10 minutes).
   */
  bullBoardLinkTtlSeconds: int("BULL_BOARD_LINK_TTL_SECONDS", 600, 30, 86_400),
};

export const bootstrap = {
  /** The admin created on an empty database by `serve --setup`. */
  adminEmail: str("ADMIN_EMAIL", "admin@localhost"),
};
