/**
 * GET /v1/models: the catalog as one viewer sees it (configured providers, its tier), aliases with
 * a usable model and `auto`, in OpenAI's list shape with Switchboard's own fields under
 * `switchboard`. Pure.
 */
import { microsToUsd } from "../../../common/money";
import type { Modality, ModelInfo } from "../../../providers/contract";

/** Owner of the entries that are routes rather than models (aliases, `auto`). */
export const SWITCHBOARD_OWNER = "switchboard";

export interface OpenAIModel {
  id: string;
  object: "model";
  /** Unix seconds. The catalog keeps no dates: the time this server started. */
  created: number;
  owned_by: string;
  switchboard: {
    kind: "model" | "alias" | "auto";
    /** Models: their modality. Aliases: their first usable model's. `auto`: null (any modality). */
    modality: Modality | null;
    provider: string | null;
    description?: string;
    quality?: number;
    contextTokens?: number;
    maxOutputTokens?: number;
    /** USD; absent fields do not apply to the model. */
    pricing?: { source?: string; inputPer1kTokensUsd?: number; outputPer1kTokensUsd?: number; perImageUsd?: number; perSecondUsd?: number };
    /** Where the entry comes from (BUILT_IN, FILE, DISCOVERED) and when the provider's own list last showed it. */
    source?: string;
    seenAt?: string;
    /** Aliases: the models they fall back through, in order (those this viewer may use). */
    aliasOf?: string[];
  };
}

/** What the viewer may route to: `available` is the router's list for its tier. */
export interface ModelsView {
  available: readonly ModelInfo[];
  aliases: Readonly<Record<string, readonly string[]>>;
  created: number;
}

const usd = (m?: number) => (m === undefined ? undefined : microsToUsd(m));

function modelEntry(m: ModelInfo, created: number): OpenAIModel {
  const p = m.pricing;
  const pricing = { source: m.pricingSource ?? "BUILT_IN", inputPer1kTokensUsd: usd(p.inputPer1kTokens), outputPer1kTokensUsd: usd(p.outputPer1kTokens), perImageUsd: usd(p.perImage), perSecondUsd: usd(p.perSecond) };
  return {
    id: m.id, object: "model", created, owned_by: m.provider,
    switchboard: JSON.parse(JSON.stringify({
      kind: "model", modality: m.modality, provider: m.provider, description: m.description, quality: m.quality ?? 0,
      contextTokens: m.contextTokens, maxOutputTokens: m.maxOutputTokens, pricing, source: m.source ?? "BUILT_IN", seenAt: m.seenAt,
    })) as OpenAIModel["switchboard"], // drops the undefined fields
  };
}

function aliasEntry(alias: string, chain: ModelInfo[], created: number): OpenAIModel {
  return {
    id: alias, object: "model", created, owned_by: SWITCHBOARD_OWNER,
    switchboard: { kind: "alias", modality: chain[0].modality, provider: null, aliasOf: chain.map((m) => m.id) },
  };
}

const autoEntry = (created: number): OpenAIModel => ({
  id: "auto", object: "model", created, owned_by: SWITCHBOARD_OWNER,
  switchboard: { kind: "auto", modality: null, provider: null, description: "The cheapest model this key may use for the request's modality (requirements filter it)" },
});

/** Models first (catalog order), then aliases (by name) whose chain has a usable model, then `auto`. */
export function modelEntries(v: ModelsView): OpenAIModel[] {
  const usable = new Map(v.available.map((m) => [m.id, m]));
  const aliases = Object.keys(v.aliases).sort().flatMap((alias) => {
    const chain = v.aliases[alias].map((id) => usable.get(id)).filter((m): m is ModelInfo => !!m);
    return chain.length ? [aliasEntry(alias, chain, v.created)] : [];
  });
  return [...v.available.map((m) => modelEntry(m, v.created)), ...aliases, ...(v.available.length ? [autoEntry(v.created)] : [])];
}

export const modelList = (v: ModelsView) => ({ object: "list" as const, data: modelEntries(v) });

/** One entry by id, or undefined when this viewer may not use it (OpenAI answers 404 model_not_found). */
export const findModel = (v: ModelsView, id: string): OpenAIModel | undefined => modelEntries(v).find((m) => m.id === id);
