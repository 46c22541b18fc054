import type { ChatMessage, GenerationRequest } from "../contract";
import type { Rng } from "./seeding";
import { estimateTokens } from "../shared/tokens";

/** Default answer budget when `text.maxTokens` is absent. */
export const DEFAULT_MAX_TOKENS = 40;

const LEXICON = [
  "signal", "route", "queue", "model", "budget", "cache", "stream", "token", "answer", "gateway",
  "latency", "retry", "vector", "frame", "sample", "prompt", "result", "worker", "context", "trace",
  "quietly", "rapidly", "carefully", "simply", "the", "a", "of", "and", "with", "through",
];

function messageText(m: ChatMessage): string {
  return m.content.map((p) => (p.type === "text" ? p.text : "")).filter(Boolean).join(" ");
}

/** The text the answer is "about": `prompt`, else the last user message, else the last message. */
export function promptText(req: GenerationRequest): string {
  if (req.prompt) return req.prompt;
  const messages = req.messages ?? [];
  const lastUser = [...messages].reverse().find((m) => m.role === "user");
  const last = lastUser ?? messages[messages.length - 1];
  return last ? messageText(last) : "";
}

/** Estimated input tokens of everything sent: system, messages and prompt. */
export function inputTokens(req: GenerationRequest): number {
  const parts = [req.system ?? "", ...(req.messages ?? []).map(messageText), req.prompt ?? ""];
  return estimateTokens(parts.filter(Boolean).join("\n"));
}

/** Truncates to at most `max` code points (never splits a surrogate pair). */
function clip(text: string, max: number): string {
  const points = Array.from(text);
  return points.length <= max ? text : points.slice(0, max).join("");
}

function compose(prefix: string, budgetChars: number, rng: Rng): string {
  let out = clip(prefix, budgetChars);
  let length = Array.from(out).length;
  let added = 0;
  for (;;) {
    const word = LEXICON[Math.floor(rng() * LEXICON.length)];
    // One char for the space before the word and one for the closing period.
    if (length + word.length + 2 > budgetChars) break;
    out += ` ${word}`;
    length += word.length + 1;
    added++;
  }
  return added > 0 ? `${out}.` : out;
}

/**
 * A deterministic fabricated answer: `Simulated answer to: <first 60 chars>. ` then words
 * picked by `rng`, bounded by `text.maxTokens` (default 40, at ~4 chars per token). With
 * `responseFormat: "JSON"` the answer is `{"simulated":true,"answer":"…"}`, always valid JSON
 * (a tiny `maxTokens` may then be exceeded by the JSON wrapper).
 */
export function simulatedAnswer(req: GenerationRequest, rng: Rng): string {
  const budgetChars = Math.max(1, req.text?.maxTokens ?? DEFAULT_MAX_TOKENS) * 4;
  const topic = clip(promptText(req).replace(/\s+/g, " ").trim(), 60).replace(/[.?!]+$/, "");
  const prefix = `Simulated answer to: ${topic}.`;
  if (req.text?.responseFormat !== "JSON") return compose(prefix, budgetChars, rng);
  const answer = compose(prefix, Math.max(8, budgetChars - 30), rng);
  return JSON.stringify({ simulated: true, answer });
}

/** Splits text into token-sized chunks (4 code points each) whose concatenation is `text`. */
export function chunkText(text: string): string[] {
  const points = Array.from(text);
  const chunks: string[] = [];
  for (let i = 0; i < points.length; i += 4) chunks.push(points.slice(i, i + 4).join(""));
  return chunks;
}

/** FNV-1a over a string's UTF-16 units. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * A deterministic embedding: lower-cased character trigrams (the text padded with spaces)
 * hashed into `dims` signed buckets, then L2-normalised. Strings sharing many trigrams get a
 * high cosine similarity; unrelated strings land near 0. Never a zero vector.
 *
 * @param text - any text (empty is fine).
 * @param dims - vector length, a positive integer (default 256).
 */
export function hashedNgramEmbedding(text: string, dims = 256): number[] {
  if (!Number.isInteger(dims) || dims < 1) throw new RangeError("dims must be a positive integer");
  const vec = new Array<number>(dims).fill(0);
  const points = Array.from(`  ${text.toLowerCase().replace(/\s+/g, " ").trim()} `);
  for (let i = 0; i + 3 <= points.length; i++) {
    const h = fnv1a(points.slice(i, i + 3).join(""));
    vec[h % dims] += h & 0x80000000 ? -1 : 1;
  }
  const norm = Math.sqrt(vec.reduce((sum, v) => sum + v * v, 0));
  // Sign collisions can cancel out (tiny inputs); fall back to a fixed unit vector.
  if (norm === 0) return vec.map((_, i) => (i === 0 ? 1 : 0));
  return vec.map((v) => v / norm);
}
