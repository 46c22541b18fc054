/**
 * Routing: a requested model, an alias or `auto` becomes an ordered list of candidates
 * (primary first, then fallbacks), each with its worst-case cost. Only models of configured
 * providers take part, and only those the user's tier (and the API key's allowedModels) may use:
 * an alias or `auto` resolves only to those, a named model or fallback outside them is
 * FORBIDDEN. The reservation covers the most expensive candidate, so falling back can never overspend.
 */
import { BadUserInputError, ForbiddenError } from "../../common/errors";
import { microsToUsd } from "../../common/money";
import type { Tier } from "../../config/config";
import type { Candidate } from "../../db/entities/generation.entity";
import type { GenerationRequest, Modality, ModelInfo } from "../../providers/contract";
import type { ProviderRegistry } from "../../providers/registry";
import { worstCaseCost } from "../generations/pricing";

export interface Requirements {
  /** 0..100, compared with the catalog's quality score. */
  minQuality?: number | null;
  maxCostUsd?: number | null;
}

export interface RouteInput {
  modality: Modality;
  model: string;
  fallbackModels?: string[] | null;
  requirements?: Requirements | null;
  /** The tighter of input.maxCostUsd and requirements.maxCostUsd, in micro-USD. */
  maxCostMicros?: number | null;
  /** The API key's allowed models (ids or "<provider>/*"); null or absent = every model. */
  allowedModels?: readonly string[] | null;
}

export interface RoutedCandidate extends Candidate {
  info: ModelInfo;
  estimatedCostMicros: number;
}

export interface Route {
  candidates: RoutedCandidate[];
  /** The most expensive candidate's worst case: what admission reserves. */
  estimatedCostMicros: number;
  /** How the list was made: "model", "alias:<name>" or "auto". */
  strategy: string;
}

export interface RouterSettings {
  aliases: Record<string, string[]>;
  /** tier → allowed model patterns ("openai/*"); a tier not listed may use every model. */
  tierModels: Partial<Record<Tier, string[]>>;
  maxCandidates: number;
  /** Why a provider cannot serve now (no key, no base URL), or undefined when it can. */
  unavailableReason(provider: string): string | undefined;
  /** Why a model may not be used at all (an unpriced model under UNPRICED_MODELS=deny), or undefined. */
  modelRefusal?(m: ModelInfo): string | undefined;
  /** Why a tier may not use a model it has no explicit list for (above the tier's price cap), or undefined. */
  tierPriceRefusal?(tier: Tier, m: ModelInfo): string | undefined;
}

const matches = (pattern: string, id: string) =>
  pattern === id || pattern === "*" || (pattern.endsWith("/*") && id.startsWith(pattern.slice(0, -1)));

export class Router {
  constructor(private readonly registry: ProviderRegistry, private readonly s: RouterSettings) {}

  tierAllows(tier: Tier, modelId: string): boolean {
    return !this.tierRefusal(tier, modelId);
  }

  /** Why the tier may not use the model: outside the providers file's list for the tier, else above its price cap. */
  private tierRefusal(tier: Tier, modelId: string): string | undefined {
    const allowed = this.s.tierModels[tier];
    if (allowed) return allowed.some((p) => matches(p, modelId)) ? undefined : `your tier (${tier}) may not use ${modelId}; allowed: ${allowed.join(", ")}`;
    const m = this.s.tierPriceRefusal && this.registry.model(modelId);
    return m ? this.s.tierPriceRefusal!(tier, m) : undefined;
  }

  /**
   * Whether an API key limited to `allowed` (null: unlimited) may use the model: listed, matched
   * by a "<provider>/*" entry, or in the chain of a listed alias. ("auto" listed lets the key ask
   * for auto; see route.)
   */
  keyAllows(allowed: readonly string[] | null | undefined, modelId: string): boolean {
    return !allowed || allowed.some((p) => matches(p, modelId) || (this.s.aliases[p]?.includes(modelId) ?? false));
  }

  /** Models a user (through a key limited to `allowed`) could route to now for a modality. */
  available(modality: Modality | undefined, tier?: Tier, allowed?: readonly string[] | null): ModelInfo[] {
    return this.registry.listModels(modality).filter((m) => !this.s.unavailableReason(m.provider) && (!tier || this.tierAllows(tier, m.id)) && this.keyAllows(allowed, m.id));
  }

  aliases(): Record<string, string[]> {
    return this.s.aliases;
  }

  /**
   * @param request the normalised request (model-independent parts), for worst-case costs.
   */
  route(input: RouteInput, request: GenerationRequest, tier: Tier): Route {
    const estimate = (m: ModelInfo) => worstCaseCost({ ...request, model: m.name }, m);
    const fits = (m: ModelInfo) => input.maxCostMicros == null || estimate(m) <= input.maxCostMicros;
    const allowed = input.allowedModels;
    const usable = (m: ModelInfo) => m.modality === input.modality && !this.s.unavailableReason(m.provider) && this.tierAllows(tier, m.id) && this.keyAllows(allowed, m.id) && !this.s.modelRefusal?.(m);
    let primary: ModelInfo[];
    let strategy: string;

    if (input.model === "auto") {
      strategy = "auto";
      const minQ = input.requirements?.minQuality ?? 0;
      // A key that lists only "auto" may ask for auto over every model; otherwise auto picks among the key's models.
      const scope = allowed && allowed.some((p) => p !== "auto") ? allowed : null;
      const pool = this.available(input.modality, tier, scope);
      // A model without a quality score (discovered, not described in the providers file) is never auto's pick.
      primary = pool.filter((m) => m.quality !== undefined && m.quality >= minQ && !this.s.modelRefusal?.(m) && fits(m)).sort((a, b) => estimate(a) - estimate(b) || (b.quality ?? 0) - (a.quality ?? 0));
      if (!pool.length && scope && this.available(input.modality, tier).length)
        throw new ForbiddenError(`this API key may not use any ${input.modality} model auto could choose; allowed: ${scope.join(", ")}`);
      if (!primary.length) {
        const closest = pool.map((m) => `${m.id} (quality ${m.quality ?? 0}, up to $${microsToUsd(estimate(m))})`).slice(0, 5).join(", ");
        throw new BadUserInputError(
          `No ${input.modality} model meets requirements { minQuality: ${minQ}${input.maxCostMicros != null ? `, maxCostUsd: ${microsToUsd(input.maxCostMicros)}` : ""} } for your tier (${tier})` +
            (closest ? `; available: ${closest}` : `; no ${input.modality} model is configured`),
          { field: "requirements" },
        );
      }
    } else if (!input.model.includes("/")) {
      strategy = `alias:${input.model}`;
      const chain = this.s.aliases[input.model];
      if (!chain) {
        throw new BadUserInputError(
          `unknown model "${input.model}": use "<provider>/<model>", "auto", or an alias (${Object.keys(this.s.aliases).join(", ")})`,
          { field: "model" },
        );
      }
      primary = chain.map((id) => this.registry.model(id)).filter((m): m is ModelInfo => !!m && usable(m) && fits(m));
      if (!primary.length && allowed && !chain.some((id) => this.keyAllows(allowed, id)))
        throw new ForbiddenError(`this API key may not use any model of alias ${input.model} (${chain.join(", ")}); allowed: ${allowed.join(", ") || "none"}`);
      if (!primary.length)
        throw new BadUserInputError(
          `alias ${input.model} has no usable ${input.modality} model: configure a provider for one of ${chain.join(", ")}` +
            (input.maxCostMicros != null ? ` (within maxCostUsd ${microsToUsd(input.maxCostMicros)})` : ""),
          { field: "model" },
        );
    } else {
      strategy = "model";
      const m = this.explicit(input.model, input.modality, tier, "model", allowed);
      if (!fits(m))
        throw new BadUserInputError(`No route fits maxCostUsd $${microsToUsd(input.maxCostMicros!)}: ${m.id} may cost up to $${microsToUsd(estimate(m))}`, {
          field: "maxCostUsd", estimatedCostUsd: microsToUsd(estimate(m)),
        });
      primary = [m];
    }

    const list: ModelInfo[] = [...primary];
    for (const [i, id] of (input.fallbackModels ?? []).entries()) {
      const m = this.explicit(id, input.modality, tier, `fallbackModels[${i}]`, allowed);
      if (fits(m)) list.push(m);
    }
    const seen = new Set<string>();
    const candidates = list
      .filter((m) => !seen.has(m.id) && seen.add(m.id))
      .slice(0, this.s.maxCandidates)
      .map((m) => ({ model: m.id, provider: m.provider, providerModel: m.name, info: m, estimatedCostMicros: estimate(m) }));
    return { candidates, estimatedCostMicros: Math.max(...candidates.map((c) => c.estimatedCostMicros)), strategy };
  }

  /** A "<provider>/<model>" the user named: every way it can be wrong is a message naming the fix. */
  private explicit(id: string, modality: Modality, tier: Tier, field: string, allowed?: readonly string[] | null): ModelInfo {
    const m = this.registry.model(id);
    const provider = id.slice(0, id.indexOf("/"));
    if (!m) {
      if (!this.registry.provider(provider))
        throw new BadUserInputError(`unknown provider "${provider}" in ${field} "${id}"; providers: ${this.registry.listProviders().map((p) => p.id).join(", ")}`, { field });
      const known = this.available(modality, tier, allowed).map((x) => x.id);
      throw new BadUserInputError(`unknown model "${id}"; models for ${modality}: ${known.join(", ") || "none"}`, { field });
    }
    if (m.modality !== modality) throw new BadUserInputError(`model ${m.id} is ${m.modality}, not ${modality}`, { field });
    const why = this.s.unavailableReason(m.provider);
    if (why) throw new BadUserInputError(`model ${m.id} cannot be used: ${why}`, { field });
    const refused = this.s.modelRefusal?.(m);
    if (refused) throw new BadUserInputError(refused, { field, model: m.id });
    const tierWhy = this.tierRefusal(tier, m.id);
    if (tierWhy) throw new ForbiddenError(tierWhy);
    if (!this.keyAllows(allowed, m.id)) throw new ForbiddenError(`this API key may not use ${m.id} (${field}); allowed: ${allowed!.join(", ") || "none"}`);
    return m;
  }
}
