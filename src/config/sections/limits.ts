/** Request limits: prompt and params sizes, pages, waits, WebSocket and GraphQL document limits. */
import { int } from "../spec";

export const limits = {
  /** Longest prompt (and total message text), characters. */
  maxPromptChars: int("MAX_PROMPT_CHARS", 32_000, 1),
  /** Most chat messages. */
  maxMessages: int("MAX_MESSAGES", 200, 1),
  /** Largest `generations(first)`. */
  maxPageSize: int("MAX_PAGE_SIZE", 100, 1),
  /** Longest `createGeneration(wait)`, seconds. */
  maxWaitSeconds: int("MAX_WAIT_SECONDS", 60, 0, 600),
  /** Size of the `params` JSON, bytes. */
  maxParamsBytes: int("MAX_PARAMS_BYTES", 16_384, 2),
  /** Largest WebSocket message, bytes. */
  wsMaxPayloadBytes: int("WS_MAX_PAYLOAD_BYTES", 65_536, 1024),
  /** Concurrent subscriptions per socket. */
  wsMaxSubscriptions: int("WS_MAX_SUBSCRIPTIONS", 50, 1),
  /** Unsent bytes a socket may hold (a slow consumer) before it is closed with 1013 (4 MiB). */
  wsMaxBufferedBytes: int("WS_MAX_BUFFERED_BYTES", 4 * 1024 * 1024, 1024),
  /** How long a subscription that ended by itself holds its `complete` frame (mapEvents in src/http/shared-execution.ts), ms; 0: at once. */
  wsCompleteHoldMs: int("WS_COMPLETE_HOLD_MS", 100, 0, 10_000),
  /** Longest query text (HTTP and WebSocket), bytes; longer is BAD_REQUEST (HTTP 400) before parsing. */
  maxQueryBytes: int("GRAPHQL_MAX_QUERY_BYTES", 65_536, 256),
  /** Parsed-document cache per node, sized by source text plus AST, bytes (32 MiB). */
  documentCacheBytes: int("GRAPHQL_DOCUMENT_CACHE_BYTES", 32 * 1024 * 1024, 1024 * 1024),
  /** Automatic persisted query texts kept per node, bytes (16 MiB; 0: APQ off). */
  persistedQueryCacheBytes: int("PERSISTED_QUERY_CACHE_BYTES", 16 * 1024 * 1024, 0),
  // Query limits (graphql-armor), HTTP and WebSocket.
  /** Deepest selection nesting. */
  maxDepth: int("GRAPHQL_MAX_DEPTH", 10, 2),
  /** Most aliases in one document. */
  maxAliases: int("GRAPHQL_MAX_ALIASES", 15, 1),
  /** Highest estimated query cost. */
  maxCost: int("GRAPHQL_MAX_COST", 5000, 10),
  /** Most directives in one document. */
  maxDirectives: int("GRAPHQL_MAX_DIRECTIVES", 20, 1),
};
