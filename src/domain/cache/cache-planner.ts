/**
 * Decides, per request, what the caches may do (read, write, exact, semantic) and looks
 * for a hit: exact first, then semantic. Returns the keys the worker writes on success.
 */
import type { Metrics } from "../../observability/metrics";
import type { GenerationRequest, ModelInfo } from "../../providers/contract";
import type { ProviderRegistry } from "../../providers/registry";
import type { CreateGenerationCommand } from "../generations/create-generation.command";
import { cacheKey, decide, derivedSeed } from "./cache-key";
import type { ExactCacheService } from "./exact-cache.service";
import type { SemanticCacheService } from "./semantic-cache.service";
import type { StoredOutput } from "../../db/entities/generation.entity";

export interface CacheHitResult {
  kind: "EXACT" | "SEMANTIC";
  similarity: number;
  sourceGenerationId: string;
  output: StoredOutput;
}

export interface CachePlan {
  /** "<scope>:<hash>" to write on success, or null. */
  exactKey: string | null;
  /** Identical in-flight requests with this key share one upstream call (null: no coalescing). */
  coalesceKey: string | null;
  /** Semantic scope to write on success, or null. */
  semanticScope: string | null;
  hit: CacheHitResult | null;
}

export class CachePlanner {
  constructor(
    private readonly registry: ProviderRegistry,
    private readonly exact: ExactCacheService,
    private readonly semantic: SemanticCacheService,
    private readonly caseSensitive: boolean,
    private readonly metrics: Metrics,
  ) {}

  countCoalesced(): void {
    this.exact.count("coalesced");
  }

  /** May set `request.seed` (derived from the request) when the request is cacheable and has none. */
  async plan(userId: string, cmd: CreateGenerationCommand, request: GenerationRequest, model: ModelInfo): Promise<CachePlan> {
    const policy = cmd.cache ?? "AUTO";
    const use = decide(policy, request);
    const ignored = this.registry.provider(model.provider)?.cacheIgnoredParams;
    const userScope = this.exact.scopeFor(userId, model.id);
    const semanticOn = policy !== "BYPASS" && this.semantic.wanted(model.id, cmd.semanticCache);
    const semanticScope = semanticOn ? this.semantic.scopeOf(userScope, model.id, request, ignored) : null;
    let exactKey: string | null = null;
    if (use.read || use.write) {
      const hash = cacheKey({ route: model.id, request, ignoredParams: ignored, caseSensitive: this.caseSensitive });
      exactKey = `${userScope}:${hash}`;
      // Reproducible where the provider honours seeds; the seed used is on the generation.
      if (request.seed === undefined) request.seed = derivedSeed(hash);
    }
    const plan: CachePlan = { exactKey: use.write ? exactKey : null, coalesceKey: use.read && use.write ? exactKey : null, semanticScope, hit: null };
    if (use.read && exactKey) {
      const e = await this.exact.get(exactKey);
      this.metrics.cacheLookups.inc({ kind: "exact", outcome: e ? "hit" : "miss" });
      if (e) return { ...plan, hit: { kind: "EXACT", similarity: 1, sourceGenerationId: e.sourceGenerationId, output: e.output } };
    }
    if (semanticScope && policy !== "REFRESH") {
      // A semantic lookup is an optimisation: if it breaks (the store, say), the request simply misses.
      const s = await this.semantic.lookup(semanticScope, request).catch(() => null);
      this.metrics.cacheLookups.inc({ kind: "semantic", outcome: s ? "hit" : "miss" });
      if (s) return { ...plan, hit: { kind: "SEMANTIC", similarity: s.similarity, sourceGenerationId: s.sourceGenerationId, output: s.output } };
    }
    return plan;
  }
}
