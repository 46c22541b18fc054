/** OpenAI embeddings and image answers as our results. */
import type { GenerationResult } from "../contract";
import { unusableResponse } from "../shared/errors";
import { estimateTokens } from "../shared/tokens";

/** Splits `total` over `weights` (largest remainder): the shares sum to `total`, each at least 1 when total allows. */
export function splitProportionally(total: number, weights: number[]): number[] {
  const n = weights.length;
  if (n === 0) return [];
  const sum = weights.reduce((a, b) => a + b, 0);
  if (total <= n) return weights.map((_, i) => (i < total ? 1 : 0));
  // Everyone gets 1 first; the rest goes out in proportion.
  const rest = total - n;
  const exact = weights.map((w) => (sum > 0 ? (w / sum) * rest : rest / n));
  const shares = exact.map((x) => Math.floor(x));
  let left = rest - shares.reduce((a, b) => a + b, 0);
  const order = exact.map((x, i) => [x - Math.floor(x), i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (const [, i] of order) {
    if (left <= 0) break;
    shares[i]++;
    left--;
  }
  return shares.map((s) => s + 1);
}

/**
 * One result per input, in input order (`index` says which input a vector is for). The
 * reported prompt_tokens are split over the inputs in proportion to their estimates.
 */
export function embeddingResults(provider: string, res: unknown, inputs: string[]): GenerationResult[] {
  const data = (res as { data?: unknown } | undefined)?.data;
  if (!Array.isArray(data) || data.length !== inputs.length) {
    throw unusableResponse(provider, `expected ${inputs.length} embedding(s), got ${Array.isArray(data) ? data.length : "none"}`);
  }
  const vectors: number[][] = new Array(inputs.length);
  data.forEach((item: { index?: unknown; embedding?: unknown }, pos) => {
    const i = typeof item?.index === "number" ? item.index : pos;
    const v = item?.embedding;
    if (i < 0 || i >= inputs.length || vectors[i] || !Array.isArray(v) || !v.every((x) => typeof x === "number" && Number.isFinite(x))) {
      throw unusableResponse(provider, `embedding ${pos} is not a usable vector for input ${i}`);
    }
    vectors[i] = v as number[];
  });
  const estimates = inputs.map(estimateTokens);
  const reported = (res as { usage?: { prompt_tokens?: unknown } }).usage?.prompt_tokens;
  const tokens = typeof reported === "number" && reported > 0 ? splitProportionally(reported, estimates) : estimates;
  return vectors.map((embedding, i) => ({ embedding, usage: { inputTokens: tokens[i] } }));
}

/** An image item of an images answer: its bytes inline, or a URL to fetch them from. */
export type ImageItem = { b64: string } | { url: string };

/** The items of an images answer; bad_response when there are none. */
export function imageData(provider: string, res: unknown): unknown[] {
  const data = (res as { data?: unknown } | undefined)?.data;
  if (!Array.isArray(data) || data.length === 0) throw unusableResponse(provider, "the answer holds no images");
  return data;
}

/** Item `i` of an images answer; bad_response when it has neither b64_json nor url. */
export function imageItem(provider: string, item: unknown, i: number): ImageItem {
  const it = item as { b64_json?: unknown; url?: unknown } | undefined;
  if (typeof it?.b64_json === "string" && it.b64_json.length > 0) return { b64: it.b64_json };
  if (typeof it?.url === "string" && it.url.length > 0) return { url: it.url };
  throw unusableResponse(provider, `image ${i} has neither b64_json nor url`);
}

/** An images answer's usage: the image count, plus tokens when the vendor reports them (gpt-image-*). */
export function imageUsage(res: unknown, images: number): GenerationResult["usage"] {
  const u = (res as { usage?: { input_tokens?: number; output_tokens?: number } }).usage;
  return {
    images,
    ...(typeof u?.input_tokens === "number" ? { inputTokens: u.input_tokens } : {}),
    ...(typeof u?.output_tokens === "number" ? { outputTokens: u.output_tokens } : {}),
  };
}
