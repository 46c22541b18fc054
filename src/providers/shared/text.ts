/** Text plumbing every adapter uses: what the model reads, and the `params` an adapter passes through. */
import type { ContentPart, GenerationRequest } from "../contract";

type Body = Record<string, unknown>;

/**
 * `responseFormat: "JSON"` for APIs with no JSON mode the adapter can rely on (Anthropic
 * without a schema, Hugging Face text generation): the system prompt asks for JSON only.
 */
export const JSON_INSTRUCTION = "Answer with a single valid JSON value only: no prose before or after it, no Markdown code fences.";

/** The text parts of a message, one per line (image parts and empty texts left out). */
export function textOf(parts: ContentPart[]): string {
  return parts.map((p) => (p.type === "text" ? p.text : "")).filter(Boolean).join("\n");
}

/** Everything the model reads (system, messages, prompt), for the input-token estimate. */
export function inputText(req: GenerationRequest): string {
  const parts: string[] = [];
  if (req.system) parts.push(req.system);
  for (const m of req.messages ?? []) parts.push(textOf(m.content));
  if (req.prompt) parts.push(req.prompt);
  return parts.join("\n");
}

/** A media model's prompt: `prompt`, or else every text part of the messages, one per line. */
export function promptText(req: GenerationRequest): string | undefined {
  if (req.prompt) return req.prompt;
  const texts = (req.messages ?? []).flatMap((m) => m.content.flatMap((p) => (p.type === "text" ? [p.text] : [])));
  return texts.length ? texts.join("\n") : undefined;
}

/** `params` without the keys the adapter owns (and without undefined values). */
export function extras(params: Record<string, unknown> | undefined, reserved: ReadonlySet<string>): Body {
  const out: Body = {};
  for (const [k, v] of Object.entries(params ?? {})) if (!reserved.has(k) && v !== undefined) out[k] = v;
  return out;
}
