/**
 * The `ollama` adapter: generation (TEXT, EMBEDDING) through Ollama's OpenAI-compatible `/v1`
 * with the openai-compatible adapter; the native API ({@link OllamaAdmin}) lists, pulls and
 * deletes models and answers the health check. A local server: calls need no key.
 */
import type { AdapterSettings } from "../adapter-settings";
import type { GenerationProvider, GenerationRequest, GenerationResult, ListedModel, ProviderCall, ProviderProbeCall } from "../contract";
import { modalityOfName } from "../openai-compatible/models";
import { OpenAICompatibleProvider } from "../openai-compatible/openai-compatible.provider";
import { AdapterBase } from "../shared/adapter-base";
import { OllamaAdmin } from "./ollama-admin";

export class OllamaProvider extends AdapterBase implements GenerationProvider {
  override readonly requiresKey = false;
  readonly admin: OllamaAdmin;
  private readonly inner: OpenAICompatibleProvider;

  constructor(settings: AdapterSettings) {
    super(settings);
    this.admin = new OllamaAdmin({ baseUrl: settings.baseUrl });
    this.inner = new OpenAICompatibleProvider({ ...settings, baseUrl: `${settings.baseUrl}/v1` });
  }

  generate(req: GenerationRequest, call: ProviderCall): Promise<GenerationResult> {
    return this.inner.generate(req, call);
  }

  embedBatch(reqs: GenerationRequest[], call: ProviderCall): Promise<GenerationResult[]> {
    return this.inner.embedBatch(reqs, call);
  }

  /** The pulled models (native /api/tags); "llama3.2:latest" is listed as "llama3.2", the name the built-in catalog uses. */
  async listModels(call: ProviderProbeCall): Promise<ListedModel[]> {
    const list = await this.admin.listModels(call.signal);
    return list.map((m) => ({
      name: m.name.replace(/:latest$/, ""),
      modality: modalityOfName(m.name) === "EMBEDDING" ? "EMBEDDING" : "TEXT",
      description: `${m.name} on the local Ollama${m.parameterSize ? ` (${m.parameterSize})` : ""}`,
    }));
  }

  async healthCheck(): Promise<void> {
    await this.admin.healthCheck();
  }
}
