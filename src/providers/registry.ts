/**
 * The providers this process knows, and the model catalog they make up. The catalog starts as
 * the adapters' own models (built-in and providers-file entries) and is replaced whenever the
 * shared catalog changes (discovery, src/domain/catalog/model-catalog.ts); simulated
 * providers keep their fixed models.
 */
import type { GenerationProvider, Modality, ModelInfo } from "./contract";

export class ProviderRegistry {
  private readonly providers = new Map<string, GenerationProvider>();
  private models = new Map<string, ModelInfo>();
  constructor(
    providers: GenerationProvider[],
    /** Which providers can serve now (keys, base URL); all by default. Asked on every lookup, never at construction. */
    private readonly available: (providerId: string) => boolean = () => true,
  ) {
    for (const p of providers) {
      this.providers.set(p.id, p);
      for (const m of p.models) this.models.set(m.id, m);
    }
  }

  isAvailable(providerId: string): boolean {
    return this.providers.has(providerId) && this.available(providerId);
  }

  provider(id: string): GenerationProvider | undefined {
    return this.providers.get(id);
  }

  /** Configured providers, or every known one with `all`. */
  listProviders(all = false): GenerationProvider[] {
    return [...this.providers.values()].filter((p) => all || this.available(p.id));
  }

  model(id: string): ModelInfo | undefined {
    return this.models.get(id);
  }

  /** Models of configured providers. */
  listModels(modality?: Modality): ModelInfo[] {
    const all = [...this.models.values()].filter((m) => this.available(m.provider));
    return modality ? all.filter((m) => m.modality === modality) : all;
  }

  /** Every model of one provider (configured or not). */
  modelsOf(providerId: string): ModelInfo[] {
    return [...this.models.values()].filter((m) => m.provider === providerId);
  }

  /** Swaps in a new catalog at once (lookups never see half of it); models of simulated providers and of unknown providers are kept out of it. */
  replaceModels(models: readonly ModelInfo[]): void {
    const next = new Map<string, ModelInfo>();
    for (const p of this.providers.values()) if (p.simulated) for (const m of p.models) next.set(m.id, m);
    for (const m of models) {
      const p = this.providers.get(m.provider);
      if (p && !p.simulated) next.set(m.id, m);
    }
    this.models = next;
  }
}
