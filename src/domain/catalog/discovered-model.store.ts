/** The `discovered_models` table: what each provider's own model list said, last time one node read it. */
import type { DataSource } from "typeorm";
import type { ListedModel, Modality, Pricing } from "../../providers/contract";

export interface DiscoveredRow extends ListedModel {
  provider: string;
  firstSeenAt: Date;
  seenAt: Date;
}

interface Raw {
  provider: string;
  name: string;
  modality: Modality;
  description: string | null;
  context_tokens: number | null;
  max_output_tokens: number | null;
  pricing: Pricing | null;
  first_seen_at: Date;
  seen_at: Date;
}

export class DiscoveredModelStore {
  constructor(private readonly ds: DataSource) {}

  /**
   * Replaces one provider's list in one transaction: every listed model is upserted (seen now),
   * every model it no longer lists is removed (deleted from Ollama, retired upstream).
   * Returns how many rows were added and removed.
   */
  async replace(provider: string, models: ListedModel[]): Promise<{ added: number; removed: number }> {
    return this.ds.transaction(async (m) => {
      // Serialises concurrent refreshes of the same provider (a second node, an admin call).
      await m.query(`SELECT pg_advisory_xact_lock(hashtext('discovered_models:' || $1))`, [provider]);
      const before: { name: string }[] = await m.query(`SELECT name FROM discovered_models WHERE provider = $1`, [provider]);
      const had = new Set(before.map((r) => r.name));
      const names = models.map((x) => x.name);
      if (models.length) {
        await m.query(
          `INSERT INTO discovered_models (provider, name, modality, description, context_tokens, max_output_tokens, pricing, first_seen_at, seen_at)
           SELECT $1, x.name, x.modality, x.description, x.context_tokens, x.max_output_tokens, x.pricing, now(), now()
           FROM jsonb_to_recordset($2::jsonb) AS x(name text, modality text, description text, context_tokens integer, max_output_tokens integer, pricing jsonb)
           ON CONFLICT (provider, name) DO UPDATE SET modality = EXCLUDED.modality, description = EXCLUDED.description,
             context_tokens = EXCLUDED.context_tokens, max_output_tokens = EXCLUDED.max_output_tokens, pricing = EXCLUDED.pricing, seen_at = now()`,
          [provider, JSON.stringify(models.map((x) => ({
            name: x.name, modality: x.modality, description: x.description ?? null, context_tokens: x.contextTokens ?? null,
            max_output_tokens: x.maxOutputTokens ?? null, pricing: x.pricing ?? null,
          })))],
        );
      }
      const gone: { n: number }[] = await m.query(
        `WITH gone AS (DELETE FROM discovered_models WHERE provider = $1 AND NOT (name = ANY($2::text[])) RETURNING name) SELECT count(*)::int AS n FROM gone`,
        [provider, names],
      );
      return { added: names.filter((n) => !had.has(n)).length, removed: gone[0].n };
    });
  }

  async all(): Promise<DiscoveredRow[]> {
    const rows: Raw[] = await this.ds.query(
      `SELECT provider, name, modality, description, context_tokens, max_output_tokens, pricing, first_seen_at, seen_at FROM discovered_models ORDER BY provider, name`,
    );
    return rows.map((r) => ({
      provider: r.provider, name: r.name, modality: r.modality, firstSeenAt: new Date(r.first_seen_at), seenAt: new Date(r.seen_at),
      ...(r.description ? { description: r.description } : {}),
      ...(r.context_tokens ? { contextTokens: r.context_tokens } : {}),
      ...(r.max_output_tokens ? { maxOutputTokens: r.max_output_tokens } : {}),
      ...(r.pricing ? { pricing: r.pricing } : {}),
    }));
  }
}
