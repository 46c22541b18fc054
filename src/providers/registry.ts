/** The providers this process knows, and the model catalog they make up. */
import type { GenerationProvider, Modality, ModelInfo } from "./contract";

export class ProviderRegistry {
  private readonly providers = new Map<string, GenerationProvider>();
  private readonly models = new Map<string, ModelInfo>();
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
}
