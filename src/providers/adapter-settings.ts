/** What every adapter receives: built from the vendor table and the providers file (src/domain/providers/provider-setup.ts). */
import type { ModelInfo } from "./contract";

export interface AdapterSettings {
  /** The provider instance id (kebab-case): "openai", "openrouter", "groq", "anthropic", "ollama", … */
  id: string;
  displayName: string;
  /** Base URL of the provider's API, always configurable (<PROVIDER>_BASE_URL). */
  baseUrl: string;
  /** Extra headers on every call (OpenRouter's HTTP-Referer and X-Title). */
  headers?: Record<string, string>;
  /** The catalog entries this instance serves (public ids "<id>/<name>"). */
  models: ModelInfo[];
  /** False for local servers that need no key (Ollama, LM Studio, vLLM without auth). */
  requiresKey: boolean;
  /** Async-task adapters: first and largest re-check delay (ms). */
  pollMinMs?: number;
  pollMaxMs?: number;
  /** The vendor has OpenAI's Batch API (files + /v1/batches): `priority: BATCH` uses it. */
  batchApi?: boolean;
}
