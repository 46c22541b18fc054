/** Our request as OpenAI wire bodies: chat completions (streamed), embeddings, image generations. */
import type { ChatMessage, GenerationRequest, ToolChoice } from "../contract";
import { invalidRequest } from "../shared/errors";
import { extras, textOf } from "../shared/text";

export type Body = Record<string, unknown>;
export type MaxTokensField = "max_tokens" | "max_completion_tokens";

/** Body keys that `params` may never override. */
const RESERVED_TEXT = new Set(["model", "messages", "stream", "stream_options"]);
const RESERVED_EMBEDDING = new Set(["model", "input", "encoding_format"]);
const RESERVED_IMAGE = new Set(["model", "prompt", "n", "size", "response_format"]);

/** OpenAI itself wants `max_completion_tokens` (o-series and newer reject `max_tokens`); other vendors know `max_tokens`. */
export function maxTokensFieldFor(baseUrl: string): MaxTokensField {
  let host = "";
  try {
    host = new URL(baseUrl).hostname;
  } catch {
    /* a bad base URL fails on the first call */
  }
  return host === "api.openai.com" ? "max_completion_tokens" : "max_tokens";
}

/**
 * One of our messages as an OpenAI chat message (user messages keep image parts: vision). A tool
 * conversation's ids go in OpenAI's fields: an assistant message's `tool_calls` (content null when
 * it has no text), a tool message's `tool_call_id`.
 */
export function toOpenAIMessage(m: ChatMessage): Body {
  if (m.role === "user") {
    const hasImage = m.content.some((p) => p.type === "image_url");
    if (!hasImage && m.content.length === 1) return { role: "user", content: textOf(m.content) };
    return {
      role: "user",
      content: m.content.map((p) => (p.type === "text" ? { type: "text", text: p.text } : { type: "image_url", image_url: { url: p.url } })),
    };
  }
  if (m.role === "tool") return { role: "tool", content: textOf(m.content), ...(m.toolCallId ? { tool_call_id: m.toolCallId } : {}) };
  if (m.role === "assistant" && m.toolCalls?.length) {
    const text = textOf(m.content);
    return {
      role: "assistant",
      content: text || null,
      tool_calls: m.toolCalls.map((c) => ({ id: c.id, type: "function", function: { name: c.name, arguments: c.arguments } })),
    };
  }
  return { role: m.role, content: textOf(m.content) };
}

/** Our tool choice in chat completions' shape: a mode string, or one function by name. */
export function toOpenAIToolChoice(c: ToolChoice): unknown {
  return c.type === "tool" ? { type: "function", function: { name: c.name } } : c.type;
}

/** A streamed chat completion body (usage included); invalid_request when there is nothing to answer. */
export function chatBody(provider: string, req: GenerationRequest, maxTokensField: MaxTokensField): Body {
  const messages: Body[] = [];
  if (req.system) messages.push({ role: "system", content: req.system });
  for (const m of req.messages ?? []) messages.push(toOpenAIMessage(m));
  if (req.prompt) messages.push({ role: "user", content: req.prompt });
  if (messages.length === 0 || !messages.some((m) => m.role !== "system")) throw invalidRequest(provider, "a text generation needs a prompt or messages");

  const t = req.text ?? {};
  const body: Body = { ...extras(req.params, RESERVED_TEXT) };
  if (t.temperature !== undefined) body.temperature = t.temperature;
  if (t.maxTokens !== undefined) {
    // A vendor extra naming the other field wins: send exactly one of them.
    const other = maxTokensField === "max_tokens" ? "max_completion_tokens" : "max_tokens";
    body[other in body ? other : maxTokensField] = t.maxTokens;
  }
  // A json_schema passed through in params (the /v1 chat door) is more precise than json_object: keep it.
  if (t.responseFormat === "JSON" && !body.response_format) body.response_format = { type: "json_object" };
  if (t.tools?.length) body.tools = t.tools;
  if (t.stop?.length) body.stop = t.stop;
  if (t.toolChoice) body.tool_choice = toOpenAIToolChoice(t.toolChoice);
  if (t.toolChoice?.disableParallel && t.tools?.length) body.parallel_tool_calls = false;
  if (req.seed !== undefined) body.seed = req.seed;
  body.model = req.model;
  body.messages = messages;
  body.stream = true;
  body.stream_options = { include_usage: true };
  return body;
}

/** The texts to embed, in request order: one model for the batch, no empty input. */
export function embeddingInputs(provider: string, reqs: GenerationRequest[]): string[] {
  const model = reqs[0].model;
  if (reqs.some((r) => r.model !== model)) throw invalidRequest(provider, "embedBatch needs one model for the whole batch");
  const inputs = reqs.map((r) => r.prompt ?? (r.messages ? r.messages.map((m) => textOf(m.content)).join("\n") : ""));
  const empty = inputs.findIndex((s) => s.length === 0);
  if (empty >= 0) throw invalidRequest(provider, `embedding input ${empty} is empty`);
  return inputs;
}

export function embeddingBody(reqs: GenerationRequest[], inputs: string[]): Body {
  return {
    ...extras(reqs[0].params, RESERVED_EMBEDDING),
    model: reqs[0].model,
    input: reqs.length === 1 ? inputs[0] : inputs,
    // Explicit floats: left unset the SDK asks for base64, which several compatible servers ignore.
    encoding_format: "float",
  };
}

export function imageBody(provider: string, req: GenerationRequest): Body {
  if (!req.prompt) throw invalidRequest(provider, "an image generation needs a prompt");
  const opts = req.image ?? { width: 1024, height: 1024, count: 1 };
  const body: Body = {
    ...extras(req.params, RESERVED_IMAGE),
    model: req.model,
    prompt: req.prompt,
    n: opts.count,
    size: `${opts.width}x${opts.height}`,
  };
  // gpt-image-* always answer base64 and reject the parameter.
  if (!/^gpt-image/i.test(req.model)) body.response_format = "b64_json";
  if (opts.style === "vivid" || opts.style === "natural") body.style ??= opts.style;
  return body;
}
