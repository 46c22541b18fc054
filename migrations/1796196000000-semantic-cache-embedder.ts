import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Which embedder made a semantic cache entry's vector (issue 20): vectors of different
 * embedders are never compared. Entries from before were all made by the offline hashed embedder.
 */
export class SemanticCacheEmbedder1796196000000 implements MigrationInterface {
  name = "SemanticCacheEmbedder1796196000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE semantic_cache_entries ADD COLUMN IF NOT EXISTS embedder text NOT NULL DEFAULT 'offline-hashed-v1'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE semantic_cache_entries DROP COLUMN IF EXISTS embedder`);
  }
}
