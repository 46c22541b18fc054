/**
 * Routing: a requested model, an alias or `auto` becomes an ordered list of candidates
 * (primary first, then fallbacks), each with its worst-case cost. Only models of configured
 * providers take part, and only those the user's tier may use. The reservation covers the
 * most expensive candidate, so falling back can never overspend.
 */
import { BadUserInputError, ForbiddenError } from "../../common/errors";
import { microsToUsd } from "../../common/money";
import type { Tier } from "../../config/config";
import type { Candidate } from "../../db/entities/generation.entity";
import type { GenerationRequest, Modality, ModelInfo } from "../../providers/contract";
import type { ProviderRegistry } from "../../providers/registry";
import { costOf, worstCaseUsage } from "../generations/pricing";

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
}

const matches = (pattern: string, id: string) =>
  pattern === id || pattern === "*" || (pattern.endsWith("/*") && id.startsWith(pattern.slice(0, -1)));

export class Router {
  constructor(private readonly registry: ProviderRegistry, private readonly s: RouterSettings) {}

  tierAllows(tier: Tier, modelId: string): boolean {
    const allowed = this.s.tierModels[tier];
    return !allowed || allowed.some((p) => matches(p, modelId));
  }

  /** Models a user could route to now for a modality. */
  available(modality: Modality | undefined, tier?: Tier): ModelInfo[] {
    return this.registry.listModels(modality).filter((m) => !this.s.unavailableReason(m.provider) && (!tier || this.tierAllows(tier, m.id)));
  }

  aliases(): Record<string, string[]> {
    return this.s.aliases;
  }

  /**
   * @param request the normalised request (model-independent parts), for worst-case costs.
   */
  route(input: RouteInput, request: GenerationRequest, tier: Tier): Route {
    const estimate = (m: ModelInfo) => costOf(m, worstCaseUsage({ ...request, model: m.name }, m));
    const fits = (m: ModelInfo) => input.maxCostMicros == null || estimate(m) <= input.maxCostMicros;
    const usable = (m: ModelInfo) => m.modality === input.modality && !this.s.unavailableReason(m.provider) && this.tierAllows(tier, m.id);
    let primary: ModelInfo[];
    let strategy: string;

    if (input.model === "auto") {
      strategy = "auto";
      const minQ = input.requirements?.minQuality ?? 0;
      const pool = this.available(input.modality, tier);
      primary = pool.filter((m) => (m.quality ?? 0) >= minQ && fits(m)).sort((a, b) => estimate(a) - estimate(b) || (b.quality ?? 0) - (a.quality ?? 0));
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
      if (!primary.length)
        throw new BadUserInputError(
          `alias ${input.model} has no usable ${input.modality} model: configure a provider for one of ${chain.join(", ")}` +
            (input.maxCostMicros != null ? ` (within maxCostUsd ${microsToUsd(input.maxCostMicros)})` : ""),
          { field: "model" },
        );
    } else {
      strategy = "model";
      const m = this.explicit(input.model, input.modality, tier, "model");
      if (!fits(m))
        throw new BadUserInputError(`No route fits maxCostUsd $${microsToUsd(input.maxCostMicros!)}: ${m.id} may cost up to $${microsToUsd(estimate(m))}`, {
          field: "maxCostUsd", estimatedCostUsd: microsToUsd(estimate(m)),
        });
      primary = [m];
    }

    const list: ModelInfo[] = [...primary];
    for (const [i, id] of (input.fallbackModels ?? []).entries()) {
      const m = this.explicit(id, input.modality, tier, `fallbackModels[${i}]`);
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
  private explicit(id: string, modality: Modality, tier: Tier, field: string): ModelInfo {
    const m = this.registry.model(id);
    const provider = id.slice(0, id.indexOf("/"));
    if (!m) {
      if (!this.registry.provider(provider))
        throw new BadUserInputError(`unknown provider "${provider}" in ${field} "${id}"; providers: ${this.registry.listProviders().map((p) => p.id).join(", ")}`, { field });
      const known = this.available(modality, tier).map((x) => x.id);
      throw new BadUserInputError(`unknown model "${id}"; models for ${modality}: ${known.join(", ") || "none"}`, { field });
    }
    if (m.modality !== modality) throw new BadUserInputError(`model ${m.id} is ${m.modality}, not ${modality}`, { field });
    const why = this.s.unavailableReason(m.provider);
    if (why) throw new BadUserInputError(`model ${m.id} cannot be used: ${why}`, { field });
    if (!this.tierAllows(tier, m.id)) throw new ForbiddenError(`your tier (${tier}) may not use ${m.id}; allowed: ${this.s.tierModels[tier]!.join(", ")}`);
    return m;
  }
}
