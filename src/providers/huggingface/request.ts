/** Our request as Hugging Face Inference arguments: one prompt string for text, `{ inputs, parameters }` for images. */
import type { ContentPart, GenerationRequest, ModelInfo } from "../contract";
import { invalidRequest } from "../shared/errors";
import { extras, JSON_INSTRUCTION } from "../shared/text";

type Body = Record<string, unknown>;

/** When neither the request nor the catalog says how long an answer may be. */
const DEFAULT_MAX_TOKENS = 1024;
/** `params` keys the adapter owns. */
const RESERVED_TEXT = new Set(["model", "prompt", "inputs", "stream", "max_new_tokens", "max_tokens"]);
const RESERVED_IMAGE = new Set(["model", "inputs", "width", "height"]);

/** `${baseUrl}/models/${model}`, each path segment of the model id encoded (baseUrl without a trailing slash). */
export function modelUrl(baseUrl: string, model: string): string {
  return `${baseUrl}/models/${model.split("/").map(encodeURIComponent).join("/")}`;
}

/** The Hub's whoami for Hugging Face hosts; the same path at any other host's origin. */
export function whoAmIUrl(baseUrl: string): string {
  const u = new URL(baseUrl);
  const hf = u.hostname === "huggingface.co" || u.hostname.endsWith(".huggingface.co");
  return hf ? "https://huggingface.co/api/whoami-v2" : `${u.origin}/api/whoami-v2`;
}

/**
 * One prompt string for text generation: the prompt alone, or a plain transcript ("User: …",
 * "Assistant: …", ending with "Assistant:") after the system text; image parts are refused.
 */
export function promptOf(provider: string, req: GenerationRequest): string {
  const system: string[] = [];
  if (req.system) system.push(req.system);
  const turns: string[] = [];
  const textOf = (parts: ContentPart[]): string => {
    if (parts.some((p) => p.type !== "text")) throw invalidRequest(provider, "text generation on Hugging Face takes text only (no image parts)");
    return parts.map((p) => (p.type === "text" ? p.text : "")).join("\n");
  };
  for (const m of req.messages ?? []) {
    const t = textOf(m.content);
    if (m.role === "system") system.push(t);
    else turns.push(`${m.role === "assistant" ? "Assistant" : m.role === "tool" ? "Tool" : "User"}: ${t}`);
  }
  if (req.text?.responseFormat === "JSON") system.push(JSON_INSTRUCTION);
  if (turns.length === 0 && system.length === 0) {
    if (!req.prompt) throw invalidRequest(provider, "a text generation needs a prompt or messages");
    return req.prompt;
  }
  if (req.prompt) turns.push(`User: ${req.prompt}`);
  if (turns.length === 0) throw invalidRequest(provider, "a text generation needs a prompt or messages");
  return `${system.length ? `${system.join("\n\n")}\n\n` : ""}${turns.join("\n")}\nAssistant:`;
}

/** The text-generation task's arguments (endpointUrl included: the SDK never asks the Hub). */
export function textArgs(provider: string, req: GenerationRequest, models: readonly ModelInfo[], baseUrl: string) {
  const choice = req.text?.toolChoice?.type;
  if (req.text?.tools?.length || choice === "required" || choice === "tool") throw invalidRequest(provider, "text generation on Hugging Face does not support tools");
  const inputs = promptOf(provider, req);
  const t = req.text ?? {};
  const model = models.find((m) => m.name === req.model);
  const parameters: Body = { ...extras(req.params, RESERVED_TEXT) };
  // The SDK sends max_new_tokens as the completions' max_tokens (whose default can be as low as 16).
  parameters.max_new_tokens = t.maxTokens ?? model?.maxOutputTokens ?? DEFAULT_MAX_TOKENS;
  if (t.temperature !== undefined) parameters.temperature = t.temperature;
  if (t.stop?.length) parameters.stop = t.stop;
  if (req.seed !== undefined) parameters.seed = req.seed;
  return { endpointUrl: modelUrl(baseUrl, req.model), model: req.model, inputs, parameters };
}

/** How many images, and the prompt they share (a `style` appended as ", <style> style"). */
export function imagePlan(provider: string, req: GenerationRequest): { count: number; inputs: string; width: number; height: number } {
  if (!req.prompt) throw invalidRequest(provider, "an image generation needs a prompt");
  const opts = req.image ?? { width: 1024, height: 1024, count: 1 };
  const count = Math.max(1, Math.floor(opts.count || 1));
  const inputs = opts.style ? `${req.prompt}, ${opts.style} style` : req.prompt;
  return { count, inputs, width: opts.width, height: opts.height };
}

/** Image `i`'s parameters: the other `params`, the size, and `seed + i` when a seed is given. */
export function imageParameters(req: GenerationRequest, plan: { width: number; height: number }, i: number): Body {
  const parameters: Body = { ...extras(req.params, RESERVED_IMAGE), width: plan.width, height: plan.height };
  if (req.seed !== undefined) parameters.seed = req.seed + i;
  return parameters;
}
