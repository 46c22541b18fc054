/** What the runner is built from (one deps object), shared by the pieces of a run. */
import type { GenerationEntity } from "../../../db/entities/generation.entity";
import type { Logger } from "../../../observability/logger";
import type { Metrics } from "../../../observability/metrics";
import type { ProviderRegistry } from "../../../providers/registry";
import type { BlobStore } from "../../../storage/blob-store";
import type { Coalescer } from "../../cache/coalescer";
import type { ExactCacheService } from "../../cache/exact-cache.service";
import type { SemanticCacheService } from "../../cache/semantic-cache.service";
import type { KeyPool } from "../../providers/key-pool";
import type { QuotaService } from "../../quotas/quota.service";
import type { CircuitBreakers } from "../../resilience/circuit-breaker";
import type { EventInit, GenerationEvents, PublishOptions } from "../generation-events";
import type { UpstreamCanceller } from "../generation.service";
import type { GenerationStore } from "../generation.store";
import type { EmbeddingBatcher } from "./embedding-batcher";
import type { ModerationService } from "../../moderation/moderation.service";

export interface RunnerConfig {
  providerTimeoutMs: number;
  /** "<modality>", "<provider>" or "<provider>:<modality>" → ms (most specific wins). */
  timeouts?: Record<string, number>;
  deltaCoalesceMs: number;
  /**
   * Fault injection for crash tests (FAULT_EXIT_AFTER_TERMINAL_COMMIT): the process kills itself
   * (SIGKILL) right after committing a simulated-provider generation's SUCCEEDED, before publishing it.
   */
  faultExitAfterTerminalCommit?: boolean;
}

export interface RunnerDeps {
  /** Every transition of the generation and its attempts. */
  store: GenerationStore;
  /** The one publisher of the run's events (after the store's transition commits). */
  events: GenerationEvents;
  registry: ProviderRegistry;
  blobs: BlobStore;
  cfg: RunnerConfig;
  log: Logger;
  metrics: Metrics;
  quotas: QuotaService;
  cache: { exact: ExactCacheService; semantic: SemanticCacheService; coalescer: Coalescer };
  keys: KeyPool;
  batcher: EmbeddingBatcher;
  /** Stops an upstream task of a generation cancelled (or past its deadline) while it ran. */
  upstream: UpstreamCanceller;
  breakers: CircuitBreakers;
  /** Content safety (MODERATION=output|both): an attempt's output is classified before it may succeed. */
  moderation?: ModerationService;
}

/** Publishes an event of a run (with the seq the run knows, when it is this process's current run). */
export type Emit = (g: GenerationEntity, ev: EventInit, opts?: Omit<PublishOptions, "floor">) => Promise<number>;
