import { createHash } from "node:crypto";
import type { GenerationRequest } from "../contract";

/** A seeded pseudo-random source returning floats in [0, 1). */
export type Rng = () => number;

/**
 * mulberry32: a tiny, fast 32-bit PRNG. Same seed → same sequence.
 *
 * @param seed - any 32-bit integer.
 */
export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Object keys sorted recursively so that key order never changes the digest. */
function sortedReplacer(_key: string, value: unknown): unknown {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return value;
  const obj = value as Record<string, unknown>;
  return Object.fromEntries(Object.keys(obj).sort().map((k) => [k, obj[k]]));
}

/**
 * SHA-256 of the normalised request: modality, model, prompt, messages, system, the
 * modality options and `seed ?? 0`. `params` is deliberately left out, so changing the
 * `simulate` knobs (latency, failures) never changes the fabricated output.
 */
export function requestDigest(req: GenerationRequest): Buffer {
  const normalised = {
    modality: req.modality,
    model: req.model,
    prompt: req.prompt ?? null,
    messages: req.messages ?? null,
    system: req.system ?? null,
    options: { text: req.text, image: req.image, video: req.video, audio: req.audio },
    seed: req.seed ?? 0,
  };
  return createHash("sha256").update(JSON.stringify(normalised, sortedReplacer)).digest();
}

/** murmur3's 32-bit finaliser: spreads nearby integers (attempt 1, 2, 3…) far apart. */
function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** The content PRNG for a request digest: same request and seed → same output. */
export function contentRng(digest: Buffer): Rng {
  return mulberry32(digest.readUInt32BE(0));
}

/**
 * Whether this attempt fails: a PRNG seeded from the digest and the attempt number,
 * compared with `failRate` (1 always fails, 0 never).
 */
export function attemptFails(digest: Buffer, attempt: number, failRate: number): boolean {
  if (failRate <= 0) return false;
  const rng = mulberry32(mix32(digest.readUInt32BE(4) ^ mix32(attempt >>> 0)));
  return rng() < failRate;
}
