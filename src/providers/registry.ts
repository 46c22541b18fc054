/** The providers this process knows, and the model catalog they make up. */
import type { GenerationProvider, Modality, ModelInfo } from "./contract";

export class ProviderRegistry {
  private readonly providers = new Map<string, GenerationProvider>();
  private readonly models = new Map<string, ModelInfo>();

  constructor(providers: GenerationProvider[]) {
    for (const p of providers) {
      this.providers.set(p.id, p);
      for (const m of p.models) this.models.set(m.id, m);
    }
  }

  provider(id: string): GenerationProvider | undefined {
    return this.providers.get(id);
  }

  listProviders(): GenerationProvider[] {
    return [...this.providers.values()];
  }

  model(id: string): ModelInfo | undefined {
    return this.models.get(id);
  }

  listModels(modality?: Modality): ModelInfo[] {
    const all = [...this.models.values()];
    return modality ? all.filter((m) => m.modality === modality) : all;
  }
}
