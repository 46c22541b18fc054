/** The `semantic_cache_entries` table: the only module that writes or reads it. */
import type { DataSource } from "typeorm";
import type { StoredOutput } from "../../db/entities/generation.entity";

export interface NewSemanticEntry {
  id: string;
  scope: string;
  sourceGenerationId: string;
  model: string;
  prompt: string;
  /** Which embedder made `embedding` (OFFLINE_EMBEDDER or "model:<provider/model>"). */
  embedder: string;
  embedding: number[];
  output: StoredOutput;
  ttlSeconds: number;
}

export class SemanticCacheStore {
  constructor(private readonly ds: DataSource) {}

  /** Every entry that has not expired. */
  live(): Promise<{ id: string; scope: string; embedder: string; embedding: number[] }[]> {
    return this.ds.query(`SELECT id, scope, embedder, embedding FROM semantic_cache_entries WHERE expires_at > now()`);
  }

  /** The entries' prompts and outputs, by id (gone or expired ones are missing from the map). */
  async hits(ids: string[]): Promise<Map<string, { sourceGenerationId: string; prompt: string; output: StoredOutput }>> {
    const rows: { id: string; source_generation_id: string; prompt: string; output: StoredOutput }[] = await this.ds.query(
      `SELECT id, source_generation_id, prompt, output FROM semantic_cache_entries WHERE id = ANY($1::uuid[]) AND expires_at > now()`,
      [ids],
    );
    return new Map(rows.map((r) => [r.id, { sourceGenerationId: r.source_generation_id, prompt: r.prompt, output: r.output }]));
  }

  async insert(e: NewSemanticEntry): Promise<void> {
    await this.ds.query(
      `INSERT INTO semantic_cache_entries (id, scope, source_generation_id, model, prompt, embedder, embedding, output, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now() + make_interval(secs => $9))`,
      [e.id, e.scope, e.sourceGenerationId, e.model, e.prompt, e.embedder, e.embedding, JSON.stringify(e.output), e.ttlSeconds],
    );
  }

  /** Deletes expired entries; returns how many. */
  async deleteExpired(): Promise<number> {
    const res = await this.ds.query(`DELETE FROM semantic_cache_entries WHERE expires_at < now()`);
    return Number(res?.[1] ?? 0);
  }

  /** Deletes entries by source generation, model or scope prefix; returns the deleted ones. */
  delete(by: { generationId?: string; model?: string; scope?: string }): Promise<{ id: string; scope: string }[]> {
    return this.ds.query(
      `DELETE FROM semantic_cache_entries
        WHERE ($1::uuid IS NOT NULL AND source_generation_id = $1::uuid) OR ($2::text IS NOT NULL AND model = $2)
           OR ($3::text IS NOT NULL AND scope LIKE $3 || '|%')
       RETURNING id, scope`,
      [by.generationId ?? null, by.model ?? null, by.scope ?? null],
    ).then((r) => r[0] ?? []);
  }
}
