/**
 * The semantic cache (opt-in per request or per route): the prompt is embedded (the
 * built-in local embedder by default) and the nearest cached entry in the same scope —
 * same user or shared scope, modality, route and output-affecting options — is served when
 * its similarity reaches the threshold. Entries persist in Postgres; every node keeps the
 * vectors in memory, loaded at start and kept in step through pub/sub.
 */
import type { DataSource } from "typeorm";
import { newId } from "../../common/ids";
import type { GenerationEntity, StoredOutput } from "../../db/entities/generation.entity";
import type { GenerationRequest, Modality } from "../../providers/contract";
import type { EventBus } from "../../realtime/event-bus";
import { Topic } from "../../realtime/topics";
import { inputText } from "../generations/pricing";
import { cacheKey } from "./cache-key";
import { localEmbedding } from "./local-embedder";
import { SemanticCacheStore } from "./semantic-cache.store";
import { SemanticIndex } from "./semantic-index";

export interface SemanticConfig {
  threshold: number;
  /** Routes whose requests use the semantic cache without asking. */
  models: readonly string[];
  ttlSeconds: Record<Modality, number>;
}

export class SemanticCacheService {
  readonly index = new SemanticIndex();
  private unsubscribe: (() => void) | undefined;
  private readonly store: SemanticCacheStore;

  constructor(
    ds: DataSource,
    private readonly bus: EventBus,
    private readonly cfg: SemanticConfig,
    private readonly embed: (text: string) => Float32Array = (t) => localEmbedding(t),
  ) {
    this.store = new SemanticCacheStore(ds);
  }

  /** Loads every live entry and follows additions and removals made by other nodes. */
  async start(): Promise<void> {
    this.unsubscribe = await this.bus.subscribe(Topic.SEMANTIC_CACHE, undefined, (m) => {
      if (m.op === "add" && m.embedding) this.index.add(m.scope, m.id, Float32Array.from(m.embedding));
      if (m.op === "remove") this.index.remove(m.scope, m.id);
    });
    const rows = await this.store.live();
    for (const r of rows) this.index.add(r.scope, r.id, Float32Array.from(r.embedding));
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
    const hit = this.index.search(scope, this.embed(inputText(r)), this.cfg.threshold);
    if (!hit) return null;
    const row = await this.store.hit(hit.id);
    if (!row) {
      this.index.remove(scope, hit.id);
      return null;
    }
    return { ...row, similarity: hit.similarity };
  }

  async add(g: GenerationEntity, request: GenerationRequest, output: StoredOutput): Promise<void> {
    if (!g.semanticScope) return;
    const id = newId();
    const v = this.embed(inputText(request));
    await this.store.insert({
      id, scope: g.semanticScope, sourceGenerationId: g.id, model: g.model, prompt: inputText(request).slice(0, 2000),
      embedding: Array.from(v), output, ttlSeconds: this.cfg.ttlSeconds[g.modality],
    });
    this.index.add(g.semanticScope, id, v);
    await this.bus.publish(Topic.SEMANTIC_CACHE, undefined, { op: "add", id, scope: g.semanticScope, embedding: Array.from(v) });
  }

  /** Deletes expired entries (every node's index drops them lazily on lookup). */
  purgeExpired(): Promise<number> {
    return this.store.deleteExpired();
  }

  /** Deletes entries by source generation, model or scope prefix ("user:<id>" or "shared"); returns how many. */
  async invalidate(by: { generationId?: string; model?: string; scope?: string }): Promise<number> {
    const rows = await this.store.delete(by);
    for (const r of rows) {
      this.index.remove(r.scope, r.id);
      await this.bus.publish(Topic.SEMANTIC_CACHE, undefined, { op: "remove", id: r.id, scope: r.scope });
    }
    return rows.length;
  }
}
