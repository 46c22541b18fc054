/** Every pub/sub topic with its payload type. Channel names are prefixed per deployment (REDIS_PREFIX). */
import type { GenerationEventPayload } from "./generation-event";

export interface CircuitEventPayload {
  provider: string;
  model: string | null;
  from: "CLOSED" | "OPEN" | "HALF_OPEN";
  to: "CLOSED" | "OPEN" | "HALF_OPEN";
  reason: string;
  consecutiveFailures: number;
  windowCalls: number;
  windowFailures: number;
  nextProbeAt: string | null;
  at: string;
}

export interface AlertPayload {
  id: string;
  kind: string;
  severity: "info" | "warning" | "critical";
  provider: string | null;
  message: string;
  details: Record<string, unknown>;
  createdAt: string;
}

export enum Topic {
  /** Events of one generation: `GENERATION_EVENT:<generationId>`. */
  GENERATION_EVENT = "GENERATION_EVENT",
  /** Events of all of one user's generations: `USER_GENERATION_EVENT:<userId>`. */
  USER_GENERATION_EVENT = "USER_GENERATION_EVENT",
  /** Broadcast: abort a running generation on whichever worker holds it. */
  CANCEL_GENERATION = "CANCEL_GENERATION",
  /** Broadcast: an API key was revoked; purge caches and close its sockets. */
  API_KEY_REVOKED = "API_KEY_REVOKED",
  /**
   * Broadcast: a key's expiry or its user changed (rotation overlap, tier change, user disabled):
   * purge caches; close its sockets now (`closeNow`) or when it expires (`expiresAt`).
   */
  API_KEY_CHANGED = "API_KEY_CHANGED",
  /** A user's budget figures moved: `QUOTA_UPDATED:<userId>`. */
  QUOTA_UPDATED = "QUOTA_UPDATED",
  /** Broadcast: a semantic cache entry was added or removed (every node keeps the vectors in memory). */
  SEMANTIC_CACHE = "SEMANTIC_CACHE",
  /** A follower joined a coalesced group: `GROUP_JOINED:<leaderId>` (the worker running it mirrors its events). */
  GROUP_JOINED = "GROUP_JOINED",
  /** Broadcast: a provider key was added, disabled, enabled or removed (every node reloads its pools). */
  PROVIDER_KEYS_CHANGED = "PROVIDER_KEYS_CHANGED",
  /** Broadcast: an alert was raised (key disabled, budget warning, anomaly). */
  ALERT_RAISED = "ALERT_RAISED",
  /** A circuit breaker changed state: `CIRCUIT_STATE_CHANGED:<provider>` and, for everyone, `CIRCUIT_STATE_CHANGED`. */
  CIRCUIT_STATE_CHANGED = "CIRCUIT_STATE_CHANGED",
  /** Progress of an Ollama model pull: `OLLAMA_PULL:<model>`. */
  OLLAMA_PULL = "OLLAMA_PULL",
  /** Broadcast: a provider's discovered models changed in Postgres (every node reloads its catalog). */
  CATALOG_CHANGED = "CATALOG_CHANGED",
}

export interface TopicPayloads {
  [Topic.GENERATION_EVENT]: GenerationEventPayload;
  [Topic.USER_GENERATION_EVENT]: GenerationEventPayload;
  [Topic.CANCEL_GENERATION]: { generationId: string };
  [Topic.API_KEY_REVOKED]: { keyId: string; keyHash: string };
  [Topic.API_KEY_CHANGED]: { keyId: string; keyHash: string; expiresAt: string | null; closeNow: "disabled" | null };
  [Topic.QUOTA_UPDATED]: { userId: string; warning: boolean };
  [Topic.SEMANTIC_CACHE]: { op: "add" | "remove"; id: string; scope: string; embedder?: string; embedding?: number[] };
  [Topic.GROUP_JOINED]: { generationId: string };
  [Topic.PROVIDER_KEYS_CHANGED]: { provider: string };
  [Topic.ALERT_RAISED]: AlertPayload;
  [Topic.CIRCUIT_STATE_CHANGED]: CircuitEventPayload;
  [Topic.CATALOG_CHANGED]: { provider: string };
  [Topic.OLLAMA_PULL]: { model: string; status: string; fraction: number | null; completedBytes: number | null; totalBytes: number | null; done: boolean; error: string | null };
}
