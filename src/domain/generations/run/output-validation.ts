/**
 * Output validation per modality, pluggable: a validator returns a problem (string) or
 * undefined. A failed validation is a retryable failure (the attempt still cost what it
 * cost), so the next candidate is tried.
 */
import { imageSize } from "image-size";
import type { GenerationRequest, GenerationResult, Modality } from "../../../providers/contract";

export type OutputValidator = (result: GenerationResult, req: GenerationRequest) => string | undefined;

const validators = new Map<Modality, OutputValidator[]>();

/** Adds a validator for a modality (they run in registration order; the first problem wins). */
export function registerOutputValidator(modality: Modality, v: OutputValidator): void {
  validators.set(modality, [...(validators.get(modality) ?? []), v]);
}

export function validateOutput(result: GenerationResult, req: GenerationRequest): string | undefined {
  for (const v of validators.get(req.modality) ?? []) {
    const problem = v(result, req);
    if (problem) return problem;
  }
  return undefined;
}

registerOutputValidator("TEXT", (r) => (!r.text?.trim() && !r.toolCalls?.length ? "the model returned empty text" : undefined));
registerOutputValidator("TEXT", (r, req) => {
  if (req.text?.responseFormat !== "JSON" || r.toolCalls?.length) return undefined;
  try {
    JSON.parse(r.text ?? "");
    return undefined;
  } catch {
    return "a JSON response format was requested but the text does not parse as JSON";
  }
});
registerOutputValidator("EMBEDDING", (r) =>
  !r.embedding?.length || r.embedding.some((x) => typeof x !== "number" || !Number.isFinite(x)) ? "the embedding is empty or not finite numbers" : undefined,
);
registerOutputValidator("IMAGE", (r, req) => {
  if (!r.media?.length) return "no image was returned";
  for (const [i, m] of r.media.entries()) {
    let size: { width?: number; height?: number };
    try {
      size = imageSize(new Uint8Array(m.data));
    } catch {
      return `image ${i + 1} does not decode as an image`;
    }
    if (req.image && (size.width !== req.image.width || size.height !== req.image.height))
      return `image ${i + 1} is ${size.width}×${size.height}, not the requested ${req.image.width}×${req.image.height}`;
  }
  return undefined;
});
for (const modality of ["VIDEO", "AUDIO"] as const)
  registerOutputValidator(modality, (r) => (!r.media?.length || r.media.some((m) => !m.data.length) ? `no ${modality.toLowerCase()} bytes were returned` : undefined));
