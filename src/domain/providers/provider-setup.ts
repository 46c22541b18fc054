/**
 * Builds the providers this deployment offers from the config: the vendors known to
 * Switchboard (base URL overridable), the built-in catalog, and the optional providers file
 * (SWITCHBOARD_PROVIDERS_FILE) that adds providers and models, overrides prices, defines
 * aliases with their fallback chains and restricts tiers to some models. Every problem is a
 * startup error naming what to fix.
 */
import { readFileSync } from "node:fs";
import type { AppConfig, Tier } from "../../config/config";
import { ConfigError } from "../../config/config";
import type { AdapterSettings } from "../../providers/adapter-settings";
import { ADAPTER_KINDS, createAdapter, VENDORS, type AdapterKind, type VendorDef } from "../../providers/adapters";
import { BUILT_IN_ALIASES, builtInModels } from "../../providers/catalog";
import { MODALITIES, type GenerationProvider, type Modality, type ModelInfo, type Pricing } from "../../providers/contract";
import { OllamaProvider } from "../../providers/ollama/ollama.provider";
import type { OllamaAdmin } from "../../providers/ollama/ollama-admin";
import { SimulatedProvider, type ProviderFaults } from "../../providers/simulated/simulated.provider";
import type { CircuitPolicy } from "../resilience/circuit-breaker";

/** What a providers file may say (all optional). Prices in USD. */
interface ProvidersFile {
  providers?: { id: string; kind: AdapterKind; name?: string; baseUrl: string; requiresKey?: boolean; headers?: Record<string, string> }[];
  models?: {
    id: string; modality: Modality; description?: string; quality?: number; maxOutputTokens?: number; contextTokens?: number; maxImageSide?: number;
    pricing?: { inputPer1kTokensUsd?: number; outputPer1kTokensUsd?: number; perImageUsd?: number; perSecondUsd?: number };
  }[];
  /** Model ids to leave out of the catalog. */
  disableModels?: string[];
  /** alias → ordered chain of model ids (the first available is primary, the rest its fallbacks). */
  aliases?: Record<string, string[]>;
  /** tier → allowed model patterns ("openai/*", "simulated/text"); a tier not listed may use every model. */
  tiers?: Partial<Record<Tier, string[]>>;
  /** provider → circuit breaker policy overrides (failureThreshold, failureRate, minCalls, windowMs, resetMs, halfOpenMax, perModel). */
  circuits?: Record<string, Partial<CircuitPolicy>>;
}

export interface ProviderSetup {
  providers: GenerationProvider[];
  /** Provider id → how it is reached; keys come from the key pool. */
  defs: Record<string, VendorDef & { id: string; configured: boolean }>;
  aliases: Record<string, string[]>;
  tierModels: Partial<Record<Tier, string[]>>;
  circuits: Record<string, Partial<CircuitPolicy>>;
  ollama?: OllamaAdmin;
  /** The built-in and file-defined catalog (source and pricingSource set); discovery adds to it (src/domain/catalog/). */
  models: ModelInfo[];
  /** Things worth a log line at startup (an unknown *_API_KEY in the environment). */
  warnings: string[];
}

const usdToMicros = (usd?: number) => (usd === undefined ? undefined : Math.round(usd * 1_000_000));

function readFile(path: string): ProvidersFile {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as ProvidersFile;
  } catch (e) {
    throw new ConfigError([`SWITCHBOARD_PROVIDERS_FILE (${path}) cannot be read as JSON: ${(e as Error).message}`]);
  }
}

export function buildProviders(cfg: AppConfig["providers"], publicUrl: string, faults: (id: string, model: string) => ProviderFaults | undefined = () => undefined): ProviderSetup {
  const file: ProvidersFile = cfg.file ? readFile(cfg.file) : {};
  const problems: string[] = [];
  const warnings: string[] = [];
  const defs: ProviderSetup["defs"] = {};
  for (const [id, v] of Object.entries(VENDORS)) defs[id] = { ...v, id, configured: false };
  for (const p of file.providers ?? []) {
    if (!/^[a-z][a-z0-9-]*$/.test(p.id ?? "")) problems.push(`providers file: provider id "${p.id}" must be kebab-case`);
    else if (!ADAPTER_KINDS.includes(p.kind)) problems.push(`providers file: provider ${p.id} has kind "${p.kind}"; use one of ${ADAPTER_KINDS.join(", ")}`);
    else if (!p.baseUrl) problems.push(`providers file: provider ${p.id} needs a baseUrl`);
    else defs[p.id] = { kind: p.kind, name: p.name ?? p.id, baseUrl: p.baseUrl.replace(/\/$/, ""), requiresKey: p.requiresKey ?? true, headers: p.headers, id: p.id, configured: false };
  }
  defs.openrouter.headers = { "HTTP-Referer": publicUrl, "X-Title": "Switchboard", ...defs.openrouter.headers };
  for (const [id, env] of Object.entries(cfg.vendors)) {
    const d = defs[id];
    if (!d) {
      // Other software's *_API_KEY variables are common in an environment: a warning, not a failure.
      warnings.push(`${id.toUpperCase().replace(/-/g, "_")}_API_KEY / _BASE_URL is set but "${id}" is not a known provider (known: ${Object.keys(defs).join(", ")}); add it in SWITCHBOARD_PROVIDERS_FILE to use it`);
      continue;
    }
    if (env.baseUrl) d.baseUrl = env.baseUrl;
    // A keyed provider is configured by its keys (env here, or stored ones later); a local one by its base URL.
    d.configured = d.requiresKey ? env.keys.length > 0 : !!env.baseUrl;
  }
  for (const p of file.providers ?? []) if (defs[p.id] && !defs[p.id].requiresKey) defs[p.id].configured = true;

  // The catalog: built-in entries, then the file's additions and overrides.
  const models = new Map<string, ModelInfo>();
  for (const id of Object.keys(defs))
    for (const m of builtInModels(id)) {
      const free = !Object.values(m.pricing).some((v) => v);
      models.set(m.id, { ...m, source: "BUILT_IN", pricingSource: free && !defs[id].requiresKey ? "LOCAL" : "BUILT_IN" });
    }
  for (const m of file.models ?? []) {
    const slash = m.id?.indexOf("/") ?? -1;
    const provider = slash > 0 ? m.id.slice(0, slash) : "";
    if (!defs[provider]) {
      problems.push(`providers file: model "${m.id}" must be "<provider>/<model>" with a known provider`);
      continue;
    }
    if (!MODALITIES.includes(m.modality)) {
      problems.push(`providers file: model ${m.id} has modality "${m.modality}"; use one of ${MODALITIES.join(", ")}`);
      continue;
    }
    const prev = models.get(m.id);
    const p = m.pricing ?? {};
    const pricing: Pricing = {
      ...prev?.pricing,
      ...Object.fromEntries(Object.entries({
        inputPer1kTokens: usdToMicros(p.inputPer1kTokensUsd), outputPer1kTokens: usdToMicros(p.outputPer1kTokensUsd),
        perImage: usdToMicros(p.perImageUsd), perSecond: usdToMicros(p.perSecondUsd),
      }).filter(([, v]) => v !== undefined)),
    };
    const priced = Object.values(p).some((v) => v !== undefined);
    models.set(m.id, {
      ...prev, id: m.id, provider, name: m.id.slice(slash + 1), modality: m.modality, pricing,
      source: prev?.source ?? "FILE", pricingSource: priced || !prev ? "FILE" : prev.pricingSource,
      description: m.description ?? prev?.description ?? m.id,
      quality: m.quality ?? prev?.quality ?? 50,
      ...(m.maxOutputTokens ? { maxOutputTokens: m.maxOutputTokens } : {}),
      ...(m.contextTokens ? { contextTokens: m.contextTokens } : {}),
      ...(m.maxImageSide ? { maxImageSide: m.maxImageSide } : {}),
    });
  }
  for (const id of file.disableModels ?? []) models.delete(id);

  const aliases: Record<string, string[]> = { ...BUILT_IN_ALIASES, ...(file.aliases ?? {}) };
  for (const [alias, chain] of Object.entries(file.aliases ?? {})) {
    if (alias.includes("/") || alias === "auto") problems.push(`providers file: alias "${alias}" may not contain "/" or be "auto"`);
    for (const id of chain) if (!models.has(id) && !id.startsWith("simulated/")) problems.push(`providers file: alias ${alias} names unknown model ${id}`);
  }
  if (problems.length) throw new ConfigError(problems);

  const providers: GenerationProvider[] = [];
  let ollama: OllamaAdmin | undefined;
  if (cfg.simulated) providers.push(new SimulatedProvider(undefined, (model) => faults("simulated", model)));
  for (const id of cfg.simulatedExtra) providers.push(new SimulatedProvider(id, (model) => faults(id, model)));
  for (const d of Object.values(defs)) {
    const settings: AdapterSettings = {
      id: d.id, displayName: d.name, baseUrl: d.baseUrl, headers: d.headers, requiresKey: d.requiresKey,
      models: [...models.values()].filter((m) => m.provider === d.id), pollMinMs: cfg.pollMinMs, pollMaxMs: cfg.pollMaxMs,
      batchApi: d.batchApi,
    };
    // With a webhook secret, Replicate calls us back on completion (polling goes on as the safety net).
    const webhookUrl = d.kind === "replicate" && cfg.replicateWebhookSecret ? `${publicUrl}/webhooks/providers/replicate` : undefined;
    const adapter = createAdapter(d.kind, settings, webhookUrl);
    if (adapter instanceof OllamaProvider) ollama = adapter.admin;
    providers.push(adapter);
  }
  return { providers, defs, aliases, tierModels: file.tiers ?? {}, circuits: file.circuits ?? {}, ollama, models: [...models.values()], warnings };
}
