import type { MigrationInterface, QueryRunner } from "typeorm";

/** Semantic cache entries: persisted here, searched in memory on every API node. */
export class SemanticCache1732400000000 implements MigrationInterface {
  name = "SemanticCache1732400000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE semantic_cache_entries (
        id uuid PRIMARY KEY,
        scope text NOT NULL,
        source_generation_id uuid NOT NULL REFERENCES generations(id) ON DELETE CASCADE,
        model text NOT NULL,
        prompt text NOT NULL,
        embedding real[] NOT NULL,
        output jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL
      )`);
    await q.query(`CREATE INDEX semantic_cache_expires_idx ON semantic_cache_entries (expires_at)`);
    await q.query(`CREATE INDEX semantic_cache_source_idx ON semantic_cache_entries (source_generation_id)`);
    await q.query(`ALTER TABLE generations ADD COLUMN semantic_scope text`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE generations DROP COLUMN semantic_scope`);
    await q.query(`DROP TABLE IF EXISTS semantic_cache_entries`);
  }
}
