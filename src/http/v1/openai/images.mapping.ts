/**
 * POST /v1/images/generations as one IMAGE generation (n images), and back. Pure: every
 * problem is a BadUserInputError naming the OpenAI param.
 */
import { BadUserInputError } from "../../../common/errors";
import type { CreateGenerationCommand } from "../../../domain/generations/create-generation.command";

/** OpenAI's own bound on `n`. */
export const MAX_IMAGES = 10;
/** With no `model`: the cheapest image model this key may use. */
export const DEFAULT_IMAGE_MODEL = "auto";

export interface ImagesRequest {
  model: string;
  prompt: string;
  n: number;
  /** Absent for `size: "auto"` (the model's default). */
  width?: number;
  height?: number;
  responseFormat: "url" | "b64_json";
  quality?: string;
  style?: string;
}

const bad = (param: string, message: string): never => {
  throw new BadUserInputError(message, { field: param });
};

const optionalString = (b: Record<string, unknown>, param: string): string | undefined => {
  const v = b[param];
  if (v == null) return undefined;
  return typeof v === "string" && v ? v : bad(param, `${param} must be a non-empty string`);
};

export function parseImagesRequest(body: unknown): ImagesRequest {
  if (!body || typeof body !== "object" || Array.isArray(body)) return bad("", "the request body must be a JSON object");
  const b = body as Record<string, unknown>;
  if (typeof b.prompt !== "string" || !b.prompt.trim()) bad("prompt", "prompt is required");
  const model = optionalString(b, "model") ?? DEFAULT_IMAGE_MODEL;
  const n = b.n ?? 1;
  if (!Number.isInteger(n) || (n as number) < 1 || (n as number) > MAX_IMAGES) bad("n", `n must be an integer from 1 to ${MAX_IMAGES}`);
  let size: { width: number; height: number } | undefined;
  if (b.size != null && b.size !== "auto") {
    const m = typeof b.size === "string" ? /^(\d{1,5})x(\d{1,5})$/.exec(b.size) : null;
    if (!m || Number(m[1]) < 1 || Number(m[2]) < 1) bad("size", 'size must be "<width>x<height>" in pixels (e.g. "1024x1024") or "auto"');
    size = { width: Number(m![1]), height: Number(m![2]) };
  }
  const format = b.response_format ?? "url";
  if (format !== "url" && format !== "b64_json") bad("response_format", 'response_format must be "url" or "b64_json"');
  const quality = optionalString(b, "quality");
  const style = optionalString(b, "style");
  return {
    model, prompt: b.prompt as string, n: n as number, ...size, responseFormat: format as ImagesRequest["responseFormat"],
    ...(quality ? { quality } : {}), ...(style ? { style } : {}),
  };
}

/** `quality` goes to the provider untouched (params); `style` is our image option. */
export function imageCommand(r: ImagesRequest): CreateGenerationCommand {
  return {
    modality: "IMAGE", model: r.model, prompt: r.prompt,
    image: { count: r.n, ...(r.width ? { width: r.width, height: r.height } : {}), ...(r.style ? { style: r.style } : {}) },
    ...(r.quality ? { params: { quality: r.quality } } : {}),
  };
}

export type ImageDatum = { b64_json: string; revised_prompt?: string } | { url: string; revised_prompt?: string };

export function imagesResponse(createdAt: Date, data: ImageDatum[]) {
  return { created: Math.floor(createdAt.getTime() / 1000), data };
}
