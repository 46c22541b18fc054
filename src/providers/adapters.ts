/** The adapter kinds, the vendors Switchboard knows, and the one place an adapter is built from its settings. */
import type { AdapterSettings } from "./adapter-settings";
import { AnthropicProvider } from "./anthropic/anthropic.provider";
import type { GenerationProvider } from "./contract";
import { HuggingFaceProvider } from "./huggingface/huggingface.provider";
import { MiniMaxProvider } from "./minimax/minimax.provider";
import { OllamaProvider } from "./ollama/ollama.provider";
import { OpenAICompatibleProvider } from "./openai-compatible/openai-compatible.provider";
import { ReplicateProvider } from "./replicate/replicate.provider";

export type AdapterKind = "openai-compatible" | "anthropic" | "huggingface" | "ollama" | "minimax" | "replicate";
export const ADAPTER_KINDS: readonly AdapterKind[] = ["openai-compatible", "anthropic", "huggingface", "ollama", "minimax", "replicate"];

export interface VendorDef {
  kind: AdapterKind;
  name: string;
  baseUrl: string;
  requiresKey: boolean;
  headers?: Record<string, string>;
  /** An OpenAI-compatible vendor with OpenAI's Batch API (files + /v1/batches). */
  batchApi?: boolean;
}

/** The vendors Switchboard knows; `<ID>_BASE_URL` overrides the base URL. */
export const VENDORS: Record<string, VendorDef> = {
  openai: { kind: "openai-compatible", name: "OpenAI", baseUrl: "https://api.openai.com/v1", requiresKey: true, batchApi: true },
  openrouter: { kind: "openai-compatible", name: "OpenRouter", baseUrl: "https://openrouter.ai/api/v1", requiresKey: true },
  groq: { kind: "openai-compatible", name: "Groq", baseUrl: "https://api.groq.com/openai/v1", requiresKey: true },
  together: { kind: "openai-compatible", name: "Together AI", baseUrl: "https://api.together.xyz/v1", requiresKey: true },
  lmstudio: { kind: "openai-compatible", name: "LM Studio (local)", baseUrl: "http://127.0.0.1:1234/v1", requiresKey: false },
  vllm: { kind: "openai-compatible", name: "vLLM (local)", baseUrl: "http://127.0.0.1:8000/v1", requiresKey: false },
  ollama: { kind: "ollama", name: "Ollama (local)", baseUrl: "http://127.0.0.1:11434", requiresKey: false },
  anthropic: { kind: "anthropic", name: "Anthropic", baseUrl: "https://api.anthropic.com", requiresKey: true },
  huggingface: { kind: "huggingface", name: "Hugging Face Inference", baseUrl: "https://router.huggingface.co/hf-inference", requiresKey: true },
  minimax: { kind: "minimax", name: "MiniMax (Hailuo video)", baseUrl: "https://api.minimax.io", requiresKey: true },
  replicate: { kind: "replicate", name: "Replicate", baseUrl: "https://api.replicate.com", requiresKey: true },
};

/** The adapter of `kind`; `webhookUrl` is Replicate's completion webhook (other kinds ignore it). */
export function createAdapter(kind: AdapterKind, s: AdapterSettings, webhookUrl?: string): GenerationProvider {
  switch (kind) {
    case "openai-compatible":
      return new OpenAICompatibleProvider(s);
    case "anthropic":
      return new AnthropicProvider(s);
    case "huggingface":
      return new HuggingFaceProvider(s);
    case "minimax":
      return new MiniMaxProvider(s);
    case "replicate":
      return new ReplicateProvider({ ...s, webhookUrl });
    case "ollama":
      // Generation goes through Ollama's OpenAI-compatible /v1; the native API lists, pulls and deletes models.
      return new OllamaProvider(s);
  }
}
