/** Our request as a Messages API body (without `stream`). */
import type { ChatMessage, GenerationRequest, ModelInfo, ToolChoice } from "../contract";
import { invalidRequest } from "../shared/errors";
import { extras, JSON_INSTRUCTION, textOf } from "../shared/text";

type Body = Record<string, unknown>;
type Block = Record<string, unknown>;

/** When neither the request nor the catalog says how long an answer may be (Anthropic requires max_tokens). */
const DEFAULT_MAX_TOKENS = 1024;
/** Body keys that `params` may never override. */
const RESERVED = new Set(["model", "messages", "system", "stream", "max_tokens", "tools"]);
/** Image types the Messages API accepts as base64 sources. */
const IMAGE_TYPES = new Set(["image/jpeg", "image/png", "image/gif", "image/webp"]);

/**
 * The Messages API body; throws invalid_request for what cannot be sent. `responseFormat:
 * "JSON"`: the Messages API has no JSON mode without a schema (`output_config.format` wants
 * one), so the system prompt asks for JSON only ({@link JSON_INSTRUCTION}).
 */
export function messagesBody(provider: string, req: GenerationRequest, models: readonly ModelInfo[]): Body {
  const systemParts: string[] = [];
  if (req.system) systemParts.push(req.system);
  const messages: Body[] = [];
  for (const m of req.messages ?? []) {
    if (m.role === "system") {
      const t = textOf(m.content);
      if (t) systemParts.push(t);
      continue;
    }
    const next = toAnthropicMessage(provider, m);
    // Tool results answering one assistant turn go back in one user turn (Anthropic wants them
    // together, first), with any text that followed them.
    const last = messages.at(-1);
    if (next.role === "user" && last?.role === "user" && (last.content as Block[]).some((b) => b.type === "tool_result"))
      (last.content as Block[]).push(...(next.content as Block[]));
    else messages.push(next);
  }
  if (req.prompt) messages.push({ role: "user", content: [{ type: "text", text: req.prompt }] });
  if (messages.length === 0) throw invalidRequest(provider, "a text generation needs a prompt or messages");

  const t = req.text ?? {};
  if (t.responseFormat === "JSON") systemParts.push(JSON_INSTRUCTION);
  const model = models.find((m) => m.name === req.model);
  const maxTokens = t.maxTokens ?? model?.maxOutputTokens ?? DEFAULT_MAX_TOKENS;

  const body: Body = extras(req.params, RESERVED);
  body.model = req.model;
  body.max_tokens = maxTokens;
  if (systemParts.length) body.system = systemParts.join("\n\n");
  body.messages = messages;
  if (t.tools?.length) body.tools = t.tools.map((tool, i) => toAnthropicTool(provider, tool, i));
  if (t.stop?.length) body.stop_sequences = t.stop;
  if (t.toolChoice) body.tool_choice = toAnthropicToolChoice(t.toolChoice);
  // t.temperature is deliberately not sent: API version 2026-10-21 rejects it (see anthropic.provider.ts).
  return body;
}

/**
 * One of our messages as a Messages API turn. A tool conversation's ids become Anthropic's
 * blocks: an assistant message's toolCalls are `tool_use` blocks after its text, a tool message
 * with a toolCallId is a user turn holding one `tool_result` block (`tool_use_id`, `is_error`).
 * A tool message without an id (the GraphQL API's) cannot be a tool_result: it goes back as user text.
 */
export function toAnthropicMessage(provider: string, m: ChatMessage): Body {
  if (m.role === "tool" && m.toolCallId) {
    const text = textOf(m.content);
    return {
      role: "user",
      content: [{ type: "tool_result", tool_use_id: m.toolCallId, ...(text ? { content: text } : {}), ...(m.toolError ? { is_error: true } : {}) }],
    };
  }
  const role = m.role === "assistant" ? "assistant" : "user";
  const content: Block[] = [];
  for (const p of m.content) {
    if (p.type === "text") {
      if (p.text) content.push({ type: "text", text: m.role === "tool" ? `Tool result: ${p.text}` : p.text });
      continue;
    }
    if (role !== "user") throw invalidRequest(provider, "images are accepted in user messages only");
    content.push({ type: "image", source: imageSource(provider, p.url) });
  }
  if (m.role === "assistant") for (const c of m.toolCalls ?? []) content.push({ type: "tool_use", id: c.id, name: c.name, input: toolInput(provider, c.arguments) });
  if (content.length === 0) throw invalidRequest(provider, `a ${m.role} message has no content`);
  return { role, content };
}

/** A tool call's JSON-text arguments as tool_use `input` (an object); empty text is {}. */
function toolInput(provider: string, args: string): unknown {
  if (!args.trim()) return {};
  try {
    const v: unknown = JSON.parse(args);
    if (v && typeof v === "object" && !Array.isArray(v)) return v;
  } catch {
    /* answered below */
  }
  throw invalidRequest(provider, "a tool call's arguments must be a JSON object");
}

/** data: URLs → base64 source; http(s) URLs → url source (Anthropic fetches them). */
export function imageSource(provider: string, url: string): Block {
  if (/^https?:\/\//i.test(url)) return { type: "url", url };
  const m = /^data:([^;,]+)((?:;[^;,]*)*);base64,(.*)$/is.exec(url);
  if (!m) throw invalidRequest(provider, "an image must be an http(s) URL or a base64 data: URL");
  const mediaType = m[1].toLowerCase() === "image/jpg" ? "image/jpeg" : m[1].toLowerCase();
  if (!IMAGE_TYPES.has(mediaType)) throw invalidRequest(provider, `image type ${mediaType} is not accepted (use JPEG, PNG, GIF or WebP)`);
  const data = m[3].replace(/\s+/g, "");
  if (!data) throw invalidRequest(provider, "an image data: URL is empty");
  return { type: "base64", media_type: mediaType, data };
}

/** Our tool choice in the Messages API's shape ("required" is Anthropic's "any"). */
export function toAnthropicToolChoice(c: ToolChoice): Body {
  const parallel = c.disableParallel && c.type !== "none" ? { disable_parallel_tool_use: true } : {};
  if (c.type === "tool") return { type: "tool", name: c.name, ...parallel };
  return { type: c.type === "required" ? "any" : c.type, ...parallel };
}

/** OpenAI function tools → Anthropic tools; tools already in Anthropic's shape pass through. */
export function toAnthropicTool(provider: string, tool: unknown, i: number): Body {
  const t = (tool ?? {}) as Body;
  const fn = t.function as Body | undefined;
  if (t.type === "function" && fn && typeof fn.name === "string") {
    return {
      name: fn.name,
      ...(typeof fn.description === "string" ? { description: fn.description } : {}),
      input_schema: (fn.parameters as Body | undefined) ?? { type: "object", properties: {} },
    };
  }
  if (typeof t.name === "string" && (t.input_schema !== undefined || typeof t.type === "string")) return t;
  throw invalidRequest(provider, `text.tools[${i}] is neither an OpenAI function tool ({type:"function", function:{name, parameters}}) nor an Anthropic tool`);
}
