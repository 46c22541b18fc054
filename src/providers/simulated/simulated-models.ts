import type { ModelInfo } from "../contract";

/** Provider id of the built-in simulated provider. */
export const SIMULATED_PROVIDER_ID = "simulated";

/** One fabricated model per modality, with small nominal prices (integer micro-USD). */
export const SIMULATED_MODELS: readonly ModelInfo[] = Object.freeze([
  {
    id: "simulated/text",
    provider: SIMULATED_PROVIDER_ID,
    name: "text",
    modality: "TEXT",
    description: "Simulated text model: fabricates a deterministic answer offline (no real model).",
    pricing: { inputPer1kTokens: 100, outputPer1kTokens: 200 },
    maxOutputTokens: 4096,
    quality: 10,
  },
  {
    id: "simulated/image",
    provider: SIMULATED_PROVIDER_ID,
    name: "image",
    modality: "IMAGE",
    description: "Simulated image model: renders a deterministic gradient PNG offline (no real model).",
    pricing: { perImage: 2000 },
    quality: 10,
  },
  {
    id: "simulated/video",
    provider: SIMULATED_PROVIDER_ID,
    name: "video",
    modality: "VIDEO",
    description: "Simulated video model: renders a small animated GIF as a stand-in for video, offline.",
    pricing: { perSecond: 5000 },
    quality: 10,
  },
  {
    id: "simulated/audio",
    provider: SIMULATED_PROVIDER_ID,
    name: "audio",
    modality: "AUDIO",
    description: "Simulated speech model: renders a plain WAV tone offline (no real speech).",
    pricing: { perSecond: 500 },
    quality: 10,
  },
  {
    id: "simulated/embedding",
    provider: SIMULATED_PROVIDER_ID,
    name: "embedding",
    modality: "EMBEDDING",
    description: "Simulated embedding model: hashed character-trigram vectors (256 dims), offline.",
    pricing: { inputPer1kTokens: 10 },
    quality: 10,
  },
]);
