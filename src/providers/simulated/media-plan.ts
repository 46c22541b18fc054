import type { GenerationRequest, GenerationResult } from "../contract";
import { invalidRequest } from "./failures";
import { renderGif, renderPng, renderWav } from "./media";
import type { Rng } from "./seeding";
import { promptText } from "./text";

/** The GIF stand-in for video is kept tiny: encoding speed matters more than pixels. */
const VIDEO_SIZE = { width: 160, height: 90 };
const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v));
const seedFrom = (rng: Rng): number => Math.floor(rng() * 2 ** 32);

/**
 * Validates an IMAGE, VIDEO or AUDIO request and draws its seeds from `rng`, returning the
 * renderer to run once the simulated latency has passed. Defaults: image 512×512, count 1;
 * video 2 s at 4 fps (max 24 frames), 160×90 GIF; audio duration from
 * `audio.durationSeconds`, else clamp(words × 0.4, 1, 10) s divided by `audio.speed`.
 *
 * @throws ProviderError kind "invalid_request" for out-of-range options.
 */
export function planMedia(req: GenerationRequest, rng: Rng, provider: string): () => GenerationResult {
  const invalid = (message: string): never => {
    throw invalidRequest(provider, message);
  };
  if (req.modality === "IMAGE") {
    const { width = 512, height = 512, count = 1 } = req.image ?? {};
    if (![width, height].every((v) => Number.isInteger(v) && v >= 1 && v <= 4096)) {
      invalid("image width/height must be integers in 1..4096");
    }
    if (!Number.isInteger(count) || count < 1 || count > 16) {
      invalid("image.count must be an integer in 1..16");
    }
    const seeds = Array.from({ length: count }, () => seedFrom(rng));
    return () => ({
      media: seeds.map((seed) => {
        return { data: renderPng(width, height, seed), mimeType: "image/png", width, height };
      }),
      usage: { images: count },
    });
  }
  if (req.modality === "VIDEO") {
    const seconds = req.video?.durationSeconds ?? 2;
    if (!(seconds > 0 && seconds <= 120)) invalid("video.durationSeconds must be in (0, 120]");
    const frames = clamp(Math.round(seconds * 4), 1, 24);
    const { width, height } = VIDEO_SIZE;
    const seed = seedFrom(rng);
    return () => {
      const data = renderGif(width, height, frames, seed, (seconds * 1000) / frames);
      const gif = { data, mimeType: "image/gif", width, height, durationSeconds: seconds };
      return { media: [gif], usage: { seconds } };
    };
  }
  if (req.modality !== "AUDIO") invalid(`modality ${req.modality} is not media`);
  const speed = req.audio?.speed ?? 1;
  if (!(speed > 0 && speed <= 10)) invalid("audio.speed must be in (0, 10]");
  const words = promptText(req).split(/\s+/).filter(Boolean).length;
  const seconds = req.audio?.durationSeconds ?? Math.round((clamp(words * 0.4, 1, 10) / speed) * 100) / 100;
  if (!(seconds > 0 && seconds <= 600)) invalid("audio.durationSeconds must be in (0, 600]");
  const seed = seedFrom(rng);
  return () => ({
    media: [{ data: renderWav(seconds, seed), mimeType: "audio/wav", durationSeconds: seconds }],
    usage: { seconds },
  });
}
