/**
 * The exact-cache key: a hash of the full normalised request — modality, resolved route,
 * prompt and messages (trimmed, whitespace folded), every output-affecting option and the
 * seed — scoped per user unless the route is shared. Params a provider declares as not
 * affecting output (e.g. the simulated provider's `simulate`) are left out.
 */
import { createHash } from "node:crypto";
import type { GenerationRequest } from "../../providers/contract";

export type CachePolicy = "AUTO" | "USE" | "BYPASS" | "REFRESH";

export const fold = (s: string | undefined, caseSensitive = true): string | undefined => {
  if (s === undefined) return undefined;
  const t = s.trim().replace(/\s+/g, " ");
  return caseSensitive ? t : t.toLowerCase();
};

/** Deterministic JSON: object keys sorted, undefined dropped. */
export function canonical(v: unknown): string {
  if (v === null || typeof v !== "object") return JSON.stringify(v) ?? "null";
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined).sort(([a], [b]) => (a < b ? -1 : 1));
  return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonical(x)}`).join(",")}}`;
}

export interface KeyInput {
  route: string;
  request: GenerationRequest;
  /** Params keys that do not affect output (declared by the provider). */
  ignoredParams?: readonly string[];
  caseSensitive?: boolean;
}

export function cacheKey({ route, request: r, ignoredParams = [], caseSensitive = true }: KeyInput): string {
  const params = Object.fromEntries(Object.entries(r.params ?? {}).filter(([k]) => !ignoredParams.includes(k)));
  const body = {
    modality: r.modality,
    route,
    prompt: fold(r.prompt, caseSensitive),
    system: fold(r.system, caseSensitive),
    messages: r.messages?.map((m) => ({
      role: m.role, content: m.content.map((c) => (c.type === "text" ? { type: "text", text: fold(c.text, caseSensitive) } : c)),
      // A tool conversation's calls and ids are part of what the model reads (undefined: absent from the key).
      toolCalls: m.toolCalls, toolCallId: m.toolCallId, toolError: m.toolError,
    })),
    text: r.text,
    image: r.image,
    video: r.video,
    audio: r.audio,
    params,
    seed: r.seed,
  };
  return createHash("sha256").update(canonical(body)).digest("hex");
}

/** AUTO caches only deterministic requests: an explicit seed, temperature 0, or embeddings. */
export function deterministic(r: GenerationRequest): boolean {
  return r.modality === "EMBEDDING" || r.seed !== undefined || r.text?.temperature === 0;
}

export function decide(policy: CachePolicy, r: GenerationRequest): { read: boolean; write: boolean } {
  if (policy === "BYPASS") return { read: false, write: false };
  if (policy === "REFRESH") return { read: false, write: true };
  if (policy === "USE") return { read: true, write: true };
  const det = deterministic(r);
  return { read: det, write: det };
}

/** A seed derived from the normalised request (31-bit, non-negative), for opted-in requests without one. */
export function derivedSeed(key: string): number {
  return parseInt(key.slice(0, 8), 16) & 0x7fffffff;
}
