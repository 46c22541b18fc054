/**
 * Embeds prompts for the semantic cache: with the configured EMBEDDING model of the catalog
 * (SEMANTIC_CACHE_EMBEDDING_MODEL) through its provider's own adapter, or with the offline
 * hashed embedder. Model calls are micro-batched (concurrent lookups within the batch window
 * share one upstream call, via the same batcher EMBEDDING generations use), remembered (an LRU
 * of text → vector; identical texts in flight share one request) and charged to no one: they
 * run on the provider's key pool like any upstream call, but no generation, reservation or
 * ledger row is made for them.
 *
 * Never rejects: an unknown or unavailable model, an error or a slow answer (past `timeoutMs`)
 * gives the offline vector instead, and the model is left alone for `cooldownMs` after a
 * failure so a dead provider does not add its timeout to every lookup. Each vector says which
 * embedder made it; callers must compare only vectors of one embedder.
 */
import { LRUCache } from "lru-cache";
import type { GenerationProvider, GenerationRequest } from "../../providers/contract";
import type { ProviderRegistry } from "../../providers/registry";
import { EmbeddingBatcher, type BatchExecutor } from "../generations/run/embedding-batcher";
import { OFFLINE_EMBEDDER, offlineEmbedding } from "./offline-embedder";

export interface EmbeddedPrompt {
  /** OFFLINE_EMBEDDER, or "model:<provider/model>". */
  embedder: string;
  /** L2-normalised. */
  vector: Float32Array;
}

/** model: an upstream call; cached: the LRU had it; fallback: the model was configured but failed or is unavailable; offline: none configured. */
export type EmbedOutcome = "model" | "cached" | "fallback" | "offline";

export interface PromptEmbedderDeps {
  /** Public id of an EMBEDDING model ("provider/model"); undefined: offline only. */
  model?: string;
  registry: Pick<ProviderRegistry, "model" | "provider" | "isAvailable">;
  /** Runs one upstream batch on the provider's key pool (ProviderService.runBatch). */
  exec: BatchExecutor;
  timeoutMs: number;
  /** Batch window: EMBEDDING_BATCH_MAX_SIZE / EMBEDDING_BATCH_MAX_WAIT_MS (a 0 window still batches within ~1 ms). */
  batch: { maxSize: number; maxWaitMs: number };
  /** Vectors remembered (default 10 000). */
  cacheSize?: number;
  /** After a failed call the model is skipped this long, ms (default 30 000). */
  cooldownMs?: number;
  onEmbed?(embedder: string, outcome: EmbedOutcome): void;
  onFailure?(err: unknown): void;
  now?(): number;
}

export const modelEmbedder = (model: string) => `model:${model}`;

function normalised(v: ArrayLike<number>): Float32Array {
  const out = Float32Array.from(v);
  let n = 0;
  for (let i = 0; i < out.length; i++) n += out[i] * out[i];
  n = Math.sqrt(n);
  if (n > 0) for (let i = 0; i < out.length; i++) out[i] /= n;
  return out;
}

export class PromptEmbedder {
  private readonly batcher: EmbeddingBatcher;
  private readonly cache: LRUCache<string, Float32Array>;
  private readonly inFlight = new Map<string, Promise<Float32Array | null>>();
  private downUntil = 0;

  constructor(private readonly d: PromptEmbedderDeps) {
    this.batcher = new EmbeddingBatcher({ maxSize: Math.max(2, d.batch.maxSize), maxWaitMs: Math.max(1, d.batch.maxWaitMs) }, d.exec);
    this.cache = new LRUCache({ max: d.cacheSize ?? 10_000 });
  }

  /** Upstream calls made so far (tests). */
  get upstreamCalls(): number {
    return this.batcher.calls;
  }

  async embed(text: string): Promise<EmbeddedPrompt> {
    const target = this.target();
    if (target) {
      const embedder = modelEmbedder(target.modelId);
      const key = `${target.modelId}\u0000${text}`;
      const hit = this.cache.get(key);
      if (hit) {
        this.d.onEmbed?.(embedder, "cached");
        return { embedder, vector: hit };
      }
      let pending = this.inFlight.get(key);
      if (!pending) {
        pending = this.callModel(target.provider, target.name, text).finally(() => this.inFlight.delete(key));
        this.inFlight.set(key, pending);
      }
      const v = await pending;
      if (v) {
        this.cache.set(key, v);
        this.d.onEmbed?.(embedder, "model");
        return { embedder, vector: v };
      }
    }
    this.d.onEmbed?.(OFFLINE_EMBEDDER, this.d.model ? "fallback" : "offline");
    return { embedder: OFFLINE_EMBEDDER, vector: offlineEmbedding(text) };
  }

  /** The model to call now, or null (none configured, not in the catalog, not an embedding model, provider down, cooling off). */
  private target(): { modelId: string; name: string; provider: GenerationProvider } | null {
    const id = this.d.model;
    if (!id || (this.d.now?.() ?? Date.now()) < this.downUntil) return null;
    const m = this.d.registry.model(id);
    const provider = m && this.d.registry.provider(m.provider);
    if (!m || m.modality !== "EMBEDDING" || !provider?.embedBatch || !this.d.registry.isAvailable(m.provider)) return null;
    return { modelId: id, name: m.name, provider };
  }

  private async callModel(provider: GenerationProvider, name: string, text: string): Promise<Float32Array | null> {
    const req: GenerationRequest = { modality: "EMBEDDING", model: name, prompt: text, params: {} };
    try {
      const { result } = await this.batcher.embed(provider, req, AbortSignal.timeout(this.d.timeoutMs), this.d.timeoutMs);
      if (!result.embedding?.length) throw new Error(`${provider.id} answered no embedding`);
      return normalised(result.embedding);
    } catch (err) {
      this.downUntil = (this.d.now?.() ?? Date.now()) + (this.d.cooldownMs ?? 30_000);
      this.d.onFailure?.(err);
      return null;
    }
  }
}
