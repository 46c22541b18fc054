/** The `semantic_cache_entries` table: the only module that writes or reads it. */
import type { DataSource } from "typeorm";
import type { StoredOutput } from "../../db/entities/generation.entity";

export interface NewSemanticEntry {
  id: string;
  scope: string;
  sourceGenerationId: string;
  model: string;
  prompt: string;
  embedding: number[];
  output: StoredOutput;
  ttlSeconds: number;
}

export class SemanticCacheStore {
  constructor(private readonly ds: DataSource) {}

  /** Every entry that has not expired. */
  live(): Promise<{ id: string; scope: string; embedding: number[] }[]> {
    return this.ds.query(`SELECT id, scope, embedding FROM semantic_cache_entries WHERE expires_at > now()`);
  }

  /** The entry's output, or null when it is gone or expired. */
  async hit(id: string): Promise<{ sourceGenerationId: string; output: StoredOutput } | null> {
    const [row] = await this.ds.query(
      `SELECT source_generation_id, output FROM semantic_cache_entries WHERE id = $1 AND expires_at > now()`,
      [id],
    );
    return row ? { sourceGenerationId: row.source_generation_id, output: row.output } : null;
  }

  async insert(e: NewSemanticEntry): Promise<void> {
    await this.ds.query(
      `INSERT INTO semantic_cache_entries (id, scope, source_generation_id, model, prompt, embedding, output, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, now() + make_interval(secs => $8))`,
      [e.id, e.scope, e.sourceGenerationId, e.model, e.prompt, e.embedding, JSON.stringify(e.output), e.ttlSeconds],
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
