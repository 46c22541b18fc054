/**
 * The built-in catalog of well-known models: modality, prices (integer micro-USD: $1 per 1M
 * tokens = 1000 micro-USD per 1K tokens), limits and a relative quality score (0..100) that
 * `auto` routing compares with `requirements.minQuality`. Prices are list prices at the time
 * of writing; override any entry (or add models) in the providers file
 * (SWITCHBOARD_PROVIDERS_FILE). A model is offered only when its provider is configured.
 */
import type { Modality, ModelInfo, Pricing } from "./contract";

interface Entry {
  name: string;
  modality: Modality;
  pricing: Pricing;
  quality: number;
  description: string;
  maxOutputTokens?: number;
  contextTokens?: number;
  maxImageSide?: number;
}

const text = (name: string, inPer1M: number, outPer1M: number, quality: number, contextTokens: number, maxOutputTokens: number, description: string): Entry => ({
  name, modality: "TEXT", pricing: { inputPer1kTokens: Math.round(inPer1M * 1000), outputPer1kTokens: Math.round(outPer1M * 1000) }, quality, contextTokens, maxOutputTokens, description,
});

export const BUILT_IN_CATALOG: Record<string, Entry[]> = {
  openai: [
    text("gpt-4o-mini", 0.15, 0.6, 70, 128_000, 16_384, "OpenAI GPT-4o mini: fast, cheap, vision"),
    text("gpt-4o", 2.5, 10, 85, 128_000, 16_384, "OpenAI GPT-4o: vision, tools"),
    text("gpt-4.1-mini", 0.4, 1.6, 78, 1_047_576, 32_768, "OpenAI GPT-4.1 mini"),
    text("gpt-4.1", 2, 8, 88, 1_047_576, 32_768, "OpenAI GPT-4.1"),
    { name: "text-embedding-3-small", modality: "EMBEDDING", pricing: { inputPer1kTokens: 20 }, quality: 70, contextTokens: 8191, description: "OpenAI embeddings, 1536 dims" },
    { name: "text-embedding-3-large", modality: "EMBEDDING", pricing: { inputPer1kTokens: 130 }, quality: 85, contextTokens: 8191, description: "OpenAI embeddings, 3072 dims" },
    { name: "dall-e-3", modality: "IMAGE", pricing: { perImage: 40_000 }, quality: 80, maxImageSide: 1792, description: "OpenAI DALL·E 3 (1024², 1792×1024)" },
    { name: "gpt-image-1", modality: "IMAGE", pricing: { perImage: 42_000 }, quality: 90, maxImageSide: 1536, description: "OpenAI GPT Image 1 (medium quality, 1024²)" },
  ],
  anthropic: [
    text("claude-haiku-4-5", 1, 5, 78, 200_000, 64_000, "Anthropic Claude Haiku 4.5: fast"),
    text("claude-sonnet-4-6", 3, 15, 92, 200_000, 64_000, "Anthropic Claude Sonnet 4.6"),
    text("claude-opus-4-7", 5, 25, 95, 200_000, 64_000, "Anthropic Claude Opus 4.7"),
  ],
  openrouter: [
    text("openai/gpt-4o-mini", 0.15, 0.6, 70, 128_000, 16_384, "GPT-4o mini through OpenRouter"),
    text("anthropic/claude-3.5-haiku", 0.8, 4, 75, 200_000, 8192, "Claude 3.5 Haiku through OpenRouter"),
    text("meta-llama/llama-3.1-8b-instruct", 0.02, 0.03, 50, 131_072, 8192, "Llama 3.1 8B through OpenRouter"),
  ],
  groq: [
    text("llama-3.1-8b-instant", 0.05, 0.08, 50, 131_072, 8192, "Llama 3.1 8B on Groq: very fast"),
    text("llama-3.3-70b-versatile", 0.59, 0.79, 72, 131_072, 32_768, "Llama 3.3 70B on Groq"),
  ],
  together: [
    text("meta-llama/Llama-3.3-70B-Instruct-Turbo", 0.88, 0.88, 72, 131_072, 8192, "Llama 3.3 70B Turbo on Together"),
    { name: "BAAI/bge-large-en-v1.5", modality: "EMBEDDING", pricing: { inputPer1kTokens: 20 }, quality: 65, contextTokens: 512, description: "BGE large embeddings on Together" },
  ],
  huggingface: [
    text("meta-llama/Llama-3.1-8B-Instruct", 0.1, 0.1, 50, 8192, 4096, "Llama 3.1 8B on Hugging Face Inference"),
    { name: "black-forest-labs/FLUX.1-schnell", modality: "IMAGE", pricing: { perImage: 3000 }, quality: 70, maxImageSide: 1440, description: "FLUX.1 schnell on Hugging Face Inference" },
  ],
  ollama: [
    text("llama3.2", 0, 0, 40, 131_072, 4096, "Llama 3.2 3B on a local Ollama (free)"),
    { name: "nomic-embed-text", modality: "EMBEDDING", pricing: {}, quality: 55, contextTokens: 8192, description: "nomic-embed-text on a local Ollama (free)" },
  ],
  lmstudio: [text("local-model", 0, 0, 40, 32_768, 4096, "Whatever model LM Studio has loaded (free, local)")],
  vllm: [text("local-model", 0, 0, 40, 32_768, 4096, "The model a local vLLM serves (free, local)")],
  minimax: [
    { name: "MiniMax-Hailuo-02", modality: "VIDEO", pricing: { perSecond: 45_000 }, quality: 85, description: "MiniMax Hailuo 02 video: text-to-video and image-to-video, 6 or 10 s" },
    { name: "T2V-01", modality: "VIDEO", pricing: { perSecond: 72_000 }, quality: 70, description: "MiniMax T2V-01 text-to-video" },
  ],
  replicate: [
    { name: "black-forest-labs/flux-schnell", modality: "IMAGE", pricing: { perImage: 3000 }, quality: 70, maxImageSide: 1440, description: "FLUX schnell on Replicate" },
    { name: "black-forest-labs/flux-1.1-pro", modality: "IMAGE", pricing: { perImage: 40_000 }, quality: 92, maxImageSide: 1440, description: "FLUX 1.1 pro on Replicate" },
    { name: "minimax/video-01", modality: "VIDEO", pricing: { perSecond: 83_000 }, quality: 75, description: "MiniMax video-01 on Replicate" },
  ],
};

/** The catalog entries of one provider as ModelInfo (public id "<provider>/<name>"). */
export function builtInModels(provider: string): ModelInfo[] {
  return (BUILT_IN_CATALOG[provider] ?? []).map((e) => ({ id: `${provider}/${e.name}`, provider, ...e }));
}

/**
 * Aliases and their fallback chains. Only models of configured providers take part; the
 * simulated models close each chain so a fresh install answers every alias.
 */
export const BUILT_IN_ALIASES: Record<string, string[]> = {
  "fast-text": ["groq/llama-3.1-8b-instant", "openai/gpt-4o-mini", "anthropic/claude-haiku-4-5", "openrouter/meta-llama/llama-3.1-8b-instruct", "ollama/llama3.2", "simulated/text"],
  "cheap-text": ["ollama/llama3.2", "openrouter/meta-llama/llama-3.1-8b-instruct", "groq/llama-3.1-8b-instant", "openai/gpt-4o-mini", "simulated/text"],
  "best-text": ["anthropic/claude-sonnet-4-6", "openai/gpt-4.1", "openai/gpt-4o", "openrouter/anthropic/claude-3.5-haiku", "simulated/text"],
  "best-image": ["openai/gpt-image-1", "replicate/black-forest-labs/flux-1.1-pro", "openai/dall-e-3", "huggingface/black-forest-labs/FLUX.1-schnell", "simulated/image"],
  "fast-image": ["replicate/black-forest-labs/flux-schnell", "huggingface/black-forest-labs/FLUX.1-schnell", "openai/dall-e-3", "simulated/image"],
  "embedding": ["openai/text-embedding-3-small", "together/BAAI/bge-large-en-v1.5", "ollama/nomic-embed-text", "simulated/embedding"],
  "video": ["minimax/MiniMax-Hailuo-02", "replicate/minimax/video-01", "simulated/video"],
};
