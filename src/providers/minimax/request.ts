/** Our request as a MiniMax video_generation body. */
import type { GenerationRequest } from "../contract";
import { extras, promptText } from "../shared/text";

/** Hailuo's default clip length when the request names none (it offers 6 or 10 s). */
export const DEFAULT_DURATION_SECONDS = 6;
/** Body keys that `params` may never override. */
const RESERVED = new Set(["model", "prompt", "duration", "resolution", "first_frame_image", "callback_url"]);

/** "1080p" → "1080P"; "1920x1080" → "1080P" (MiniMax names resolutions by their short side). */
export function minimaxResolution(resolution: string | undefined): string | undefined {
  if (!resolution) return undefined;
  const p = /^(\d{3,4})p$/i.exec(resolution.trim());
  if (p) return `${p[1]}P`;
  const wh = /^(\d{2,5})\s*[x×]\s*(\d{2,5})$/i.exec(resolution.trim());
  if (wh) return `${Math.min(Number(wh[1]), Number(wh[2]))}P`;
  return resolution;
}

/** Request-time check: VIDEO only, from a prompt or a first frame (image-to-video). */
export function validateMinimaxRequest(provider: string, req: GenerationRequest): string | undefined {
  if (req.modality !== "VIDEO") return `${provider} generates VIDEO only, not ${req.modality}`;
  if (!promptText(req) && !req.video?.imageUrl) return `${provider} needs a prompt or video.imageUrl (image-to-video)`;
  return undefined;
}

export function videoGenerationBody(req: GenerationRequest): Record<string, unknown> {
  const body: Record<string, unknown> = extras(req.params, RESERVED);
  Object.assign(body, { model: req.model, prompt: promptText(req) ?? "", duration: req.video?.durationSeconds ?? DEFAULT_DURATION_SECONDS });
  const resolution = minimaxResolution(req.video?.resolution);
  if (resolution) body.resolution = resolution;
  if (req.video?.imageUrl) body.first_frame_image = req.video.imageUrl;
  return body;
}
