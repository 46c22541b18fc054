/**
 * An OpenAI chat completions request body → our generation command. Pure: every problem is a
 * BadUserInputError naming its `param` (OpenAI's field path), answered 400.
 *
 * Mapped: model (catalog id, alias or `auto`), messages (system/developer messages become the
 * system text; text and image_url parts), temperature, max_tokens / max_completion_tokens, seed,
 * response_format (json_object → JSON; json_schema → JSON, its schema passed through in params as
 * `response_format`), tools (TextOptions.tools), stop and tool_choice (TextOptions.stop and
 * .toolChoice, provider-neutral: each adapter sends them in its own API's shape, so a fallback to
 * another vendor gets names it knows; `parallel_tool_calls: false` rides on the tool choice). `n` must be 1.
 * Other top-level fields (top_p, presence_penalty, user, …, and `simulate` for the simulated
 * provider) are passed to the provider as params, untouched; `switchboard` holds our options.
 */
import { BadUserInputError } from "../../../common/errors";
import type { ToolChoice } from "../../../providers/contract";
import type { V1Command } from "../generation-call";
import type { SwitchboardOptions } from "../headers";

/** Fields read here; the rest go to params. */
const MAPPED = new Set([
  "model", "messages", "temperature", "max_tokens", "max_completion_tokens", "seed", "response_format", "tools", "stream",
  "stream_options", "n", "switchboard", "stop", "tool_choice",
  "parallel_tool_calls",
]);

/** OpenAI's limit on stop sequences. */
const MAX_STOP = 4;

type Message = NonNullable<V1Command["messages"]>[number];
type Part = Message["content"][number];

export interface ChatRequest {
  command: V1Command;
  stream: boolean;
  /** stream_options.include_usage: a last chunk with usage and no choices. */
  includeUsage: boolean;
}

const bad = (param: string, message: string): never => {
  throw new BadUserInputError(message, { field: param });
};

const isObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === "object" && !Array.isArray(v);

function parts(content: unknown, param: string): Part[] {
  if (typeof content === "string") return [{ type: "text", text: content }];
  if (content == null) return [];
  if (!Array.isArray(content)) return bad(param, "content must be a string or an array of content parts");
  return content.map((p, j): Part => {
    const f = `${param}[${j}]`;
    if (!isObject(p)) return bad(f, "a content part must be an object");
    if (p.type === "text") return typeof p.text === "string" ? { type: "text", text: p.text } : bad(`${f}.text`, "a text part needs `text`");
    if (p.type === "image_url") {
      const url = isObject(p.image_url) ? p.image_url.url : p.image_url;
      return typeof url === "string" ? { type: "image_url", url } : bad(`${f}.image_url.url`, "an image_url part needs image_url.url");
    }
    return bad(`${f}.type`, `content part type ${JSON.stringify(p.type)} is not supported; use "text" or "image_url"`);
  });
}

/** An assistant message's `tool_calls` (function calls) as our tool calls: ids, names, JSON-text arguments. */
function toolCallsOf(raw: unknown, f: string): NonNullable<Message["toolCalls"]> {
  if (!Array.isArray(raw)) return bad(f, "tool_calls must be an array");
  return raw.map((c, j) => {
    const g = `${f}[${j}]`;
    if (!isObject(c)) return bad(g, "a tool call must be an object");
    if (typeof c.id !== "string" || !c.id) return bad(`${g}.id`, "a tool call needs an id");
    if (c.type != null && c.type !== "function") return bad(`${g}.type`, 'only "function" tool calls are supported');
    const fn = c.function;
    if (!isObject(fn) || typeof fn.name !== "string" || !fn.name) return bad(`${g}.function.name`, "a tool call needs function.name");
    const args = fn.arguments == null ? "" : typeof fn.arguments === "string" ? fn.arguments : bad(`${g}.function.arguments`, "function.arguments must be a JSON string");
    return { id: c.id, name: fn.name, arguments: args };
  });
}

/**
 * messages → the system text and our messages. A tool conversation keeps its ids: an assistant
 * message's tool_calls become its toolCalls, a tool message's tool_call_id its toolCallId, so the
 * next turn reaches any upstream in that upstream's own wire format.
 */
function messages(raw: unknown): { system: string | null; messages: Message[] } {
  if (!Array.isArray(raw) || !raw.length) return bad("messages", "messages must be a non-empty array");
  const system: string[] = [];
  const out: Message[] = [];
  raw.forEach((m, i) => {
    const f = `messages[${i}]`;
    if (!isObject(m)) return bad(f, "a message must be an object");
    const role = m.role;
    const content = parts(m.content, `${f}.content`);
    if (role === "system" || role === "developer") {
      system.push(content.map((p) => p.text ?? "").join("\n"));
      return;
    }
    if (role !== "user" && role !== "assistant" && role !== "tool") return bad(`${f}.role`, "role must be one of system, developer, user, assistant, tool");
    const msg: Message = { role, content };
    if (role === "assistant" && m.tool_calls != null && !(Array.isArray(m.tool_calls) && !m.tool_calls.length)) msg.toolCalls = toolCallsOf(m.tool_calls, `${f}.tool_calls`);
    if (role === "tool") {
      if (typeof m.tool_call_id !== "string" || !m.tool_call_id) return bad(`${f}.tool_call_id`, "a tool message needs tool_call_id (the id of the tool call it answers)");
      msg.toolCallId = m.tool_call_id;
    }
    if (!content.length && !msg.toolCalls) return bad(`${f}.content`, "a message needs content");
    out.push(msg);
  });
  if (!out.length) return bad("messages", "messages need at least one user, assistant or tool message");
  return { system: system.length ? system.join("\n\n") : null, messages: out };
}

function optionalNumber(body: Record<string, unknown>, key: string): number | undefined {
  const v = body[key];
  if (v == null) return undefined;
  if (typeof v !== "number" || !Number.isFinite(v)) return bad(key, `${key} must be a number`);
  return v;
}

/** `stop`: one string or a list of them. */
function stopOf(v: unknown): string[] | undefined {
  if (v == null) return undefined;
  const list = typeof v === "string" ? [v] : v;
  if (!Array.isArray(list) || list.some((s) => typeof s !== "string")) return bad("stop", "stop must be a string or an array of strings");
  if (list.length > MAX_STOP) bad("stop", `at most ${MAX_STOP} stop sequences`);
  return list.length ? (list as string[]) : undefined;
}

/** `tool_choice` (none, auto, required, or {type: "function", function: {name}}) and `parallel_tool_calls: false` (with tools). */
function toolChoiceOf(v: unknown, parallelToolCalls: unknown, hasTools: boolean): ToolChoice | undefined {
  if (parallelToolCalls != null && typeof parallelToolCalls !== "boolean") bad("parallel_tool_calls", "parallel_tool_calls must be a boolean");
  const parallel = parallelToolCalls === false && hasTools ? { disableParallel: true } : {};
  if (v == null) return parallel.disableParallel ? { type: "auto", ...parallel } : undefined;
  if (v === "none" || v === "auto" || v === "required") return { type: v, ...parallel };
  if (isObject(v) && v.type === "function") {
    const name = isObject(v.function) ? v.function.name : undefined;
    return typeof name === "string" && name ? { type: "tool", name, ...parallel } : bad("tool_choice.function.name", "a function tool_choice needs function.name");
  }
  return bad("tool_choice", 'tool_choice must be "none", "auto", "required" or {"type": "function", "function": {"name": …}}');
}

/**
 * The command and stream flags of a chat completions request.
 *
 * @param options - Switchboard's options (body `switchboard` and `x-switchboard-*` headers, already parsed).
 */
export function toChatCommand(body: Record<string, unknown>, options: SwitchboardOptions): ChatRequest {
  if (typeof body.model !== "string" || !body.model.trim()) bad("model", "model is required: a catalog id (provider/model), an alias or auto");
  if (body.n != null && body.n !== 1) bad("n", "only n=1 is supported");
  if (body.stream != null && typeof body.stream !== "boolean") bad("stream", "stream must be a boolean");
  if (body.stream_options != null && !isObject(body.stream_options)) bad("stream_options", "stream_options must be an object");
  const { system, messages: msgs } = messages(body.messages);
  const temperature = optionalNumber(body, "temperature");
  const maxTokens = optionalNumber(body, "max_completion_tokens") ?? optionalNumber(body, "max_tokens");
  const seed = optionalNumber(body, "seed");
  if (seed !== undefined && !Number.isInteger(seed)) bad("seed", "seed must be an integer");
  if (maxTokens !== undefined && (!Number.isInteger(maxTokens) || maxTokens < 1))
    bad(body.max_completion_tokens != null ? "max_completion_tokens" : "max_tokens", "must be a positive integer");

  const params: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(body)) if (!MAPPED.has(k) && v !== undefined) params[k] = v;

  let responseFormat: "TEXT" | "JSON" | undefined;
  const rf = body.response_format;
  if (rf != null) {
    if (!isObject(rf)) bad("response_format", "response_format must be an object");
    const type = (rf as Record<string, unknown>).type;
    if (type === "json_object") responseFormat = "JSON";
    else if (type === "json_schema") {
      if (!isObject((rf as Record<string, unknown>).json_schema)) bad("response_format.json_schema", "json_schema needs a json_schema object");
      responseFormat = "JSON";
      params.response_format = rf; // the contract has no schema field: the provider gets it as sent
    } else if (type === "text") responseFormat = "TEXT";
    else bad("response_format.type", "response_format.type must be text, json_object or json_schema");
  }
  if (body.tools != null && !Array.isArray(body.tools)) bad("tools", "tools must be an array");
  const stop = stopOf(body.stop);
  const toolChoice = toolChoiceOf(body.tool_choice, body.parallel_tool_calls, Array.isArray(body.tools) && body.tools.length > 0);

  const text = {
    ...(temperature !== undefined ? { temperature } : {}),
    ...(maxTokens !== undefined ? { maxTokens } : {}),
    ...(responseFormat ? { responseFormat } : {}),
    ...(Array.isArray(body.tools) && body.tools.length ? { tools: body.tools as unknown[] } : {}),
    ...(stop ? { stop } : {}),
    ...(toolChoice ? { toolChoice } : {}),
  };
  const command: V1Command = {
    modality: "TEXT", model: (body.model as string).trim(), system, messages: msgs,
    ...(Object.keys(text).length ? { text } : {}),
    ...(seed !== undefined ? { seed } : {}),
    ...(Object.keys(params).length ? { params } : {}),
    ...options,
  };
  return { command, stream: body.stream === true, includeUsage: isObject(body.stream_options) && body.stream_options.include_usage === true };
}
