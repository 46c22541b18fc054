/**
 * The `ollama` adapter: generation (TEXT, EMBEDDING) through Ollama's OpenAI-compatible `/v1`
 * with the openai-compatible adapter; the native API ({@link OllamaAdmin}) lists, pulls and
 * deletes models and answers the health check. A local server: calls need no key.
 */
import type { AdapterSettings } from "../adapter-settings";
import type { GenerationProvider, GenerationRequest, GenerationResult, ModelInfo, ProviderCall } from "../contract";
import { OpenAICompatibleProvider } from "../openai-compatible/openai-compatible.provider";
import { OllamaAdmin } from "./ollama-admin";

export class OllamaProvider implements GenerationProvider {
  readonly id: string;
  readonly displayName: string;
  readonly simulated = false;
  readonly models: readonly ModelInfo[];
  readonly requiresKey = false;
  readonly admin: OllamaAdmin;
  private readonly inner: OpenAICompatibleProvider;

  constructor(settings: AdapterSettings) {
    this.admin = new OllamaAdmin({ baseUrl: settings.baseUrl });
    this.inner = new OpenAICompatibleProvider({ ...settings, baseUrl: `${settings.baseUrl}/v1` });
    this.id = this.inner.id;
    this.displayName = this.inner.displayName;
    this.models = this.inner.models;
  }

  generate(req: GenerationRequest, call: ProviderCall): Promise<GenerationResult> {
    return this.inner.generate(req, call);
  }

  embedBatch(reqs: GenerationRequest[], call: ProviderCall): Promise<GenerationResult[]> {
    return this.inner.embedBatch(reqs, call);
  }

  async healthCheck(): Promise<void> {
    await this.admin.healthCheck();
  }
}
