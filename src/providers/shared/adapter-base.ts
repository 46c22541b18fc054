/** What every upstream adapter takes from its settings: the GenerationProvider identity fields. */
import type { AdapterSettings } from "../adapter-settings";
import type { ModelInfo } from "../contract";

export abstract class AdapterBase {
  readonly id: string;
  readonly displayName: string;
  readonly simulated = false;
  readonly models: readonly ModelInfo[];
  /** From the settings; hosted-only adapters (Replicate, MiniMax) and local ones (Ollama) fix it. */
  readonly requiresKey: boolean;

  constructor(settings: AdapterSettings) {
    this.id = settings.id;
    this.displayName = settings.displayName;
    this.models = settings.models;
    this.requiresKey = settings.requiresKey;
  }
}
