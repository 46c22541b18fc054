import type { MigrationInterface, QueryRunner } from "typeorm";

/** Models read from each provider's own list (issue 18): one row per (provider, model), shared by every node. */
export class DiscoveredModels1796181958512 implements MigrationInterface {
  name = "DiscoveredModels1796181958512";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE IF NOT EXISTS discovered_models (
      provider text NOT NULL,
      name text NOT NULL,
      modality text NOT NULL,
      description text,
      context_tokens integer,
      max_output_tokens integer,
      -- The upstream's own prices (OpenRouter), integer micro-USD: { inputPer1kTokens, outputPer1kTokens, … }; null when it publishes none.
      pricing jsonb,
      first_seen_at timestamptz NOT NULL DEFAULT now(),
      seen_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (provider, name)
    )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS discovered_models`);
  }
}
