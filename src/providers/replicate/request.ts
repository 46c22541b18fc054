/** Our request as a Replicate prediction: which model or version, and its input. */
import type { GenerationRequest } from "../contract";
import { promptText } from "../shared/text";

/** "owner/name" → an official model; "owner/name:version" or a bare 64-hex id → a version. */
export function replicateModelRef(model: string): { model: string } | { version: string } {
  const colon = model.indexOf(":");
  if (colon >= 0) return { version: model.slice(colon + 1) };
  if (/^[0-9a-f]{64}$/i.test(model)) return { version: model };
  return { model };
}

/**
 * The prediction input: prompt, seed, and for images width, height and num_outputs; then
 * `params.input` (model-specific extras such as aspect_ratio, output_format, or a video
 * model's first_frame_image) on top.
 */
export function replicateInput(req: GenerationRequest): Record<string, unknown> {
  const input: Record<string, unknown> = {};
  const prompt = promptText(req);
  if (prompt !== undefined) input.prompt = prompt;
  if (req.modality === "IMAGE" && req.image) {
    input.width = req.image.width;
    input.height = req.image.height;
    input.num_outputs = req.image.count;
  }
  if (req.seed !== undefined) input.seed = req.seed;
  const extras = req.params?.input;
  if (extras && typeof extras === "object" && !Array.isArray(extras)) {
    for (const [k, v] of Object.entries(extras as Record<string, unknown>)) if (v !== undefined) input[k] = v;
  }
  return input;
}

/** Request-time check: IMAGE or VIDEO only, and `params.input` an object of model inputs. */
export function validateReplicateRequest(provider: string, req: GenerationRequest): string | undefined {
  if (req.modality !== "IMAGE" && req.modality !== "VIDEO") return `${provider} generates IMAGE or VIDEO, not ${req.modality}`;
  const extras = req.params?.input;
  if (extras !== undefined && (typeof extras !== "object" || extras === null || Array.isArray(extras))) {
    return "params.input must be an object of model inputs";
  }
  return undefined;
}
