/**
 * The semantic cache (opt-in per request or per route): the prompt is embedded (the configured
 * embedding model, else the offline hashed embedder: prompt-embedder.ts) and the nearest cached
 * entries in the same scope — same user or shared scope, modality, route and output-affecting
 * options — *made by the same embedder* are candidates when their similarity reaches that
 * embedder's threshold. A candidate is served only if it also passes the verification step
 * (prompt-verifier.ts: same numbers, negations, quotes, entities, language, no reversed
 * relation); one that fails is a miss, counted by reason. Entries persist in Postgres; every
 * node keeps the vectors in memory, loaded at start and kept in step through pub/sub.
 */
import type { DataSource } from "typeorm";
import { newId } from "../../common/ids";
import type { GenerationEntity, StoredOutput } from "../../db/entities/generation.entity";
import type { GenerationRequest, Modality } from "../../providers/contract";
import type { EventBus } from "../../realtime/event-bus";
import { Topic } from "../../realtime/topics";
import { inputText } from "../generations/pricing";
import { cacheKey } from "./cache-key";
import { OFFLINE_EMBEDDER, offlineEmbedding } from "./offline-embedder";
import type { EmbeddedPrompt } from "./prompt-embedder";
import { verifyMatch, type VerifyFailure } from "./prompt-verifier";
import { SemanticCacheStore } from "./semantic-cache.store";
import { SemanticIndex } from "./semantic-index";

export interface SemanticConfig {
  /** Cosine similarity a hit needs between offline hashed vectors. */
  threshold: number;
  /** Cosine similarity a hit needs between vectors of the embedding model (default: `threshold`). */
  modelThreshold?: number;
  /** Routes whose requests use the semantic cache without asking. */
  models: readonly string[];
  ttlSeconds: Record<Modality, number>;
}

export interface SemanticCacheDeps {
  /** Never rejects (falls back to the offline embedder); default: the offline embedder only. */
  embed?(text: string): Promise<EmbeddedPrompt>;
  /** A near neighbour failed verification. */
  onRejected?(reason: VerifyFailure): void;
}

/** Near neighbours verified per lookup, best first: the nearest may fail where the next passes. */
const CANDIDATES = 4;

export class SemanticCacheService {
  readonly index = new SemanticIndex();
  private unsubscribe: (() => void) | undefined;
  private readonly store: SemanticCacheStore;
  private readonly embed: (text: string) => Promise<EmbeddedPrompt>;
  /** Embedders whose vectors this node holds (a removal is applied under each). */
  private readonly embedders = new Set<string>([OFFLINE_EMBEDDER]);

  constructor(
    ds: DataSource,
    private readonly bus: EventBus,
    private readonly cfg: SemanticConfig,
    private readonly deps: SemanticCacheDeps = {},
  ) {
    this.store = new SemanticCacheStore(ds);
    this.embed = deps.embed ?? (async (t) => ({ embedder: OFFLINE_EMBEDDER, vector: offlineEmbedding(t) }));
  }

  /** Loads every live entry and follows additions and removals made by other nodes. */
  async start(): Promise<void> {
    this.unsubscribe = await this.bus.subscribe(Topic.SEMANTIC_CACHE, undefined, (m) => {
      if (m.op === "add" && m.embedding) this.addToIndex(m.embedder ?? OFFLINE_EMBEDDER, m.scope, m.id, Float32Array.from(m.embedding));
      if (m.op === "remove") this.removeEverywhere(m.scope, m.id);
    });
    const rows = await this.store.live();
    for (const r of rows) this.addToIndex(r.embedder, r.scope, r.id, Float32Array.from(r.embedding));
  }

  stop(): void {
    this.unsubscribe?.();
  }

  wanted(route: string, asked: boolean | null | undefined): boolean {
    return asked ?? this.cfg.models.includes(route);
  }

  /** Same scope = same user/shared scope, modality, route and options; only the prompt may differ. */
  scopeOf(userScope: string, route: string, r: GenerationRequest, ignoredParams?: readonly string[]): string {
    const withoutText: GenerationRequest = { ...r, prompt: undefined, system: undefined, messages: undefined, seed: undefined };
    return `${userScope}|${cacheKey({ route, request: withoutText, ignoredParams })}`;
  }

  async lookup(scope: string, r: GenerationRequest): Promise<{ sourceGenerationId: string; output: StoredOutput; similarity: number } | null> {
    const text = inputText(r);
    const q = await this.embed(text);
    const threshold = q.embedder === OFFLINE_EMBEDDER ? this.cfg.threshold : (this.cfg.modelThreshold ?? this.cfg.threshold);
    const key = indexKey(q.embedder, scope);
    const candidates = this.index.searchTop(key, q.vector, threshold, CANDIDATES);
    if (!candidates.length) return null;
    const rows = await this.store.hits(candidates.map((c) => c.id));
    for (const c of candidates) {
      const row = rows.get(c.id);
      if (!row) {
        this.index.remove(key, c.id);
        continue;
      }
      const verdict = verifyMatch(text, row.prompt);
      if (verdict.ok) return { sourceGenerationId: row.sourceGenerationId, output: row.output, similarity: c.similarity };
      this.deps.onRejected?.(verdict.reason);
    }
    return null;
  }

  async add(g: GenerationEntity, request: GenerationRequest, output: StoredOutput): Promise<void> {
    if (!g.semanticScope) return;
    const id = newId();
    const text = inputText(request);
    const { embedder, vector } = await this.embed(text);
    await this.store.insert({
      id, scope: g.semanticScope, sourceGenerationId: g.id, model: g.model, prompt: text, embedder,
      embedding: Array.from(vector), output, ttlSeconds: this.cfg.ttlSeconds[g.modality],
    });
    this.addToIndex(embedder, g.semanticScope, id, vector);
    await this.bus.publish(Topic.SEMANTIC_CACHE, undefined, { op: "add", id, scope: g.semanticScope, embedder, embedding: Array.from(vector) });
  }

  /** Deletes expired entries (every node's index drops them lazily on lookup). */
  purgeExpired(): Promise<number> {
    return this.store.deleteExpired();
  }

  /** Deletes entries by source generation, model or scope prefix ("user:<id>" or "shared"); returns how many. */
  async invalidate(by: { generationId?: string; model?: string; scope?: string }): Promise<number> {
    const rows = await this.store.delete(by);
    for (const r of rows) {
      this.removeEverywhere(r.scope, r.id);
      await this.bus.publish(Topic.SEMANTIC_CACHE, undefined, { op: "remove", id: r.id, scope: r.scope });
    }
    return rows.length;
  }

  private addToIndex(embedder: string, scope: string, id: string, v: Float32Array): void {
    this.embedders.add(embedder);
    this.index.add(indexKey(embedder, scope), id, v);
  }

  /** Removals carry no embedder: the entry is dropped from that scope under every embedder seen. */
  private removeEverywhere(scope: string, id: string): void {
    for (const e of this.embedders) this.index.remove(indexKey(e, scope), id);
  }
}

/** One index scope per embedder and cache scope: vectors of different embedders never meet. */
function indexKey(embedder: string, scope: string): string {
  return `${embedder}\u0001${scope}`;
}
