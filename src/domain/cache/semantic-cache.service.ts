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

  constructor(
    private readonly ds: DataSource,
    private readonly bus: EventBus,
    private readonly cfg: SemanticConfig,
    private readonly embed: (text: string) => Float32Array = (t) => localEmbedding(t),
  ) {}

  /** Loads every live entry and follows additions and removals made by other nodes. */
  async start(): Promise<void> {
    this.unsubscribe = await this.bus.subscribe(Topic.SEMANTIC_CACHE, undefined, (m) => {
      if (m.op === "add" && m.embedding) this.index.add(m.scope, m.id, Float32Array.from(m.embedding));
      if (m.op === "remove") this.index.remove(m.scope, m.id);
    });
    const rows: { id: string; scope: string; embedding: number[] }[] = await this.ds.query(
      `SELECT id, scope, embedding FROM semantic_cache_entries WHERE expires_at > now()`,
    );
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
    const [row] = await this.ds.query(
      `SELECT source_generation_id, output FROM semantic_cache_entries WHERE id = $1 AND expires_at > now()`,
      [hit.id],
    );
    if (!row) {
      this.index.remove(scope, hit.id);
      return null;
    }
    return { sourceGenerationId: row.source_generation_id, output: row.output, similarity: hit.similarity };
  }

  async add(g: GenerationEntity, request: GenerationRequest, output: StoredOutput): Promise<void> {
    if (!g.semanticScope) return;
    const id = newId();
    const v = this.embed(inputText(request));
    await this.ds.query(
      `INSERT INTO semantic_cache_entries (id, scope, source_generation_id, model, prompt, embedding, output, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, now() + make_interval(secs => $8))`,
      [id, g.semanticScope, g.id, g.model, inputText(request).slice(0, 2000), Array.from(v), JSON.stringify(output), this.cfg.ttlSeconds[g.modality]],
    );
    this.index.add(g.semanticScope, id, v);
    await this.bus.publish(Topic.SEMANTIC_CACHE, undefined, { op: "add", id, scope: g.semanticScope, embedding: Array.from(v) });
  }

  /** Deletes expired entries (every node's index drops them lazily on lookup). */
  async purgeExpired(): Promise<number> {
    const res = await this.ds.query(`DELETE FROM semantic_cache_entries WHERE expires_at < now()`);
    return Number(res?.[1] ?? 0);
  }

  /** Deletes entries by source generation, model or scope prefix ("user:<id>" or "shared"); returns how many. */
  async invalidate(by: { generationId?: string; model?: string; scope?: string }): Promise<number> {
    const rows: { id: string; scope: string }[] = await this.ds.query(
      `DELETE FROM semantic_cache_entries
        WHERE ($1::uuid IS NOT NULL AND source_generation_id = $1::uuid) OR ($2::text IS NOT NULL AND model = $2)
           OR ($3::text IS NOT NULL AND scope LIKE $3 || '|%')
       RETURNING id, scope`,
      [by.generationId ?? null, by.model ?? null, by.scope ?? null],
    ).then((r) => r[0] ?? []);
    for (const r of rows) {
      this.index.remove(r.scope, r.id);
      await this.bus.publish(Topic.SEMANTIC_CACHE, undefined, { op: "remove", id: r.id, scope: r.scope });
    }
    return rows.length;
  }
}
