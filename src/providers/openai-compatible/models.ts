/** GET /models of an OpenAI-compatible API as catalog entries, with OpenRouter's extras (prices, context length, max output, modalities). */
import type { ListedModel, Modality, Pricing } from "../contract";

interface WireModel {
  id?: unknown;
  name?: unknown;
  description?: unknown;
  context_length?: unknown;
  pricing?: { prompt?: unknown; completion?: unknown; image?: unknown };
  top_provider?: { context_length?: unknown; max_completion_tokens?: unknown };
  architecture?: { output_modalities?: unknown; modality?: unknown };
}

const positiveInt = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) && v > 0 ? Math.floor(v) : undefined);

/** A per-token USD price (OpenRouter sends strings such as "0.00000015"; "-1" means variable) as micro-USD per 1k tokens. */
function per1k(v: unknown): number | undefined {
  const n = typeof v === "string" ? Number(v) : typeof v === "number" ? v : NaN;
  return Number.isFinite(n) && n >= 0 ? Math.round(n * 1e9) : undefined;
}

/** What a bare id says about its modality (OpenAI's list has no modality field). */
export function modalityOfName(name: string): Modality | undefined {
  const n = name.toLowerCase();
  if (/embed|bge-|e5-|minilm/.test(n)) return "EMBEDDING";
  if (/dall-e|gpt-image|stable-diffusion|flux|sdxl/.test(n)) return "IMAGE";
  // Speech, transcription and moderation models are not generations we route.
  if (/whisper|tts|transcribe|moderation|realtime|audio|search-preview|computer-use/.test(n)) return undefined;
  return "TEXT";
}

function modalityOf(m: WireModel, name: string): Modality | undefined {
  const out = m.architecture?.output_modalities;
  if (Array.isArray(out)) {
    if (out.includes("text")) return modalityOfName(name) === "EMBEDDING" ? "EMBEDDING" : "TEXT";
    if (out.includes("image")) return "IMAGE";
    return undefined;
  }
  return modalityOfName(name);
}

/** The `data` array of a models list answer; entries we cannot route are left out. */
export function listedModels(body: unknown): ListedModel[] {
  const data = (body as { data?: unknown })?.data;
  if (!Array.isArray(data)) return [];
  const out: ListedModel[] = [];
  for (const m of data as WireModel[]) {
    if (typeof m?.id !== "string" || !m.id) continue;
    const modality = modalityOf(m, m.id);
    if (!modality) continue;
    const input = per1k(m.pricing?.prompt);
    const output = per1k(m.pricing?.completion);
    // Token prices say nothing about an image model's price per image.
    const pricing: Pricing | undefined = modality !== "IMAGE" && (input !== undefined || output !== undefined)
      ? { ...(input !== undefined ? { inputPer1kTokens: input } : {}), ...(output !== undefined && modality !== "EMBEDDING" ? { outputPer1kTokens: output } : {}) }
      : undefined;
    const contextTokens = positiveInt(m.context_length) ?? positiveInt(m.top_provider?.context_length);
    const maxOutputTokens = positiveInt(m.top_provider?.max_completion_tokens);
    out.push({
      name: m.id, modality,
      ...(typeof m.name === "string" && m.name ? { description: m.name } : {}),
      ...(contextTokens ? { contextTokens } : {}),
      ...(maxOutputTokens ? { maxOutputTokens } : {}),
      ...(pricing ? { pricing } : {}),
    });
  }
  return out;
}
