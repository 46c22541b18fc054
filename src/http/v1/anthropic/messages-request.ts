/**
 * An Anthropic Messages API request body (POST /v1/messages) as a createGeneration command.
 * Pure: every problem is a BadUserInputError naming the field (400 invalid_request_error).
 *
 * What the generation contract cannot carry is mapped so every provider can still serve it:
 * custom tools become OpenAI function tools (the neutral shape both the OpenAI-compatible and
 * the Anthropic adapters read; server tools pass through untouched). A tool conversation keeps
 * its ids: an assistant turn's tool_use blocks become its toolCalls, each tool_result block a tool
 * message with its tool_use_id (and is_error), so any upstream gets them in its own wire format.
 * `thinking` blocks in the history are dropped, as Anthropic ignores them there.
 */
import { BadUserInputError } from "../../../common/errors";
import type { CreateGenerationCommand } from "../../../domain/generations/create-generation.command";
import type { ToolChoice } from "../../../providers/contract";

type Json = Record<string, unknown>;
type Part = { type: "text"; text: string } | { type: "image_url"; url: string };
type Message = NonNullable<CreateGenerationCommand["messages"]>[number];

export interface MessagesRequest {
  cmd: CreateGenerationCommand;
  stream: boolean;
  /** The model as the client named it (echoed in the Message's `model`). */
  model: string;
}

/** Most stop sequences a request may carry (Anthropic documents no limit; OpenAI allows 4). */
const MAX_STOP_SEQUENCES = 16;

function bad(field: string, message: string): never {
  throw new BadUserInputError(`${field}: ${message}`, { field });
}

const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

/** A tool_result's content (a string or text/image blocks) as one text. */
function resultText(field: string, content: unknown): string {
  if (content === undefined || content === null) return "";
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) bad(field, "must be a string or a list of content blocks");
  return content.map((b, i) => (isObject(b) && b.type === "text" && typeof b.text === "string" ? b.text : bad(`${field}.${i}`, "only text blocks are supported in a tool_result"))).join("\n");
}

function imageUrl(field: string, source: unknown): string {
  if (!isObject(source)) bad(`${field}.source`, "Field required");
  if (source.type === "base64") {
    if (typeof source.media_type !== "string" || typeof source.data !== "string") bad(`${field}.source`, "a base64 source needs media_type and data");
    return `data:${source.media_type};base64,${source.data}`;
  }
  if (source.type === "url") {
    if (typeof source.url !== "string") bad(`${field}.source.url`, "Field required");
    return source.url;
  }
  return bad(`${field}.source.type`, "Input should be 'base64' or 'url'");
}

/** One block of a message: a content part, a tool call (assistant), a tool result (user), or nothing (thinking). */
type Block = { part: Part } | { call: NonNullable<Message["toolCalls"]>[number] } | { result: Message } | undefined;

function block(field: string, role: "user" | "assistant", b: unknown): Block {
  if (!isObject(b) || typeof b.type !== "string") bad(field, "a content block needs a type");
  switch (b.type) {
    case "text":
      if (typeof b.text !== "string") bad(`${field}.text`, "Field required");
      return { part: { type: "text", text: b.text } };
    case "image":
      if (role !== "user") bad(field, "images are accepted in user messages only");
      return { part: { type: "image_url", url: imageUrl(field, b.source) } };
    case "tool_use":
      if (role !== "assistant") bad(field, "tool_use blocks are accepted in assistant messages only");
      if (typeof b.id !== "string" || !b.id) bad(`${field}.id`, "Field required");
      if (typeof b.name !== "string") bad(`${field}.name`, "Field required");
      if (b.input !== undefined && !isObject(b.input)) bad(`${field}.input`, "Input should be a valid dictionary");
      return { call: { id: b.id, name: b.name, arguments: JSON.stringify(b.input ?? {}) } };
    case "tool_result": {
      if (role !== "user") bad(field, "tool_result blocks are accepted in user messages only");
      if (typeof b.tool_use_id !== "string" || !b.tool_use_id) bad(`${field}.tool_use_id`, "Field required");
      if (b.is_error != null && typeof b.is_error !== "boolean") bad(`${field}.is_error`, "Input should be a valid boolean");
      const text = resultText(`${field}.content`, b.content);
      return { result: { role: "tool", content: text ? [{ type: "text", text }] : [], toolCallId: b.tool_use_id, ...(b.is_error === true ? { toolError: true } : {}) } };
    }
    case "thinking":
    case "redacted_thinking":
      return undefined;
    default:
      return bad(`${field}.type`, `content blocks of type "${b.type}" are not supported (text, image, tool_use, tool_result)`);
  }
}

/** A user turn's blocks in order: each tool_result its own tool message, the other blocks between them user messages. */
function userMessages(blocks: Block[]): Message[] {
  const out: Message[] = [];
  let parts: Part[] = [];
  const flush = () => {
    if (parts.length) out.push({ role: "user", content: parts });
    parts = [];
  };
  for (const b of blocks) {
    if (b && "result" in b) flush(), out.push(b.result);
    else if (b && "part" in b) parts.push(b.part);
  }
  flush();
  return out;
}

function messages(v: unknown): Message[] {
  if (!Array.isArray(v) || v.length === 0) bad("messages", "at least one message is required");
  return v.flatMap((m, i): Message[] => {
    const f = `messages.${i}`;
    if (!isObject(m)) bad(f, "must be an object");
    if (m.role !== "user" && m.role !== "assistant") bad(`${f}.role`, "Input should be 'user' or 'assistant'");
    const role = m.role;
    if (typeof m.content === "string") return [{ role, content: [{ type: "text", text: m.content }] }];
    if (!Array.isArray(m.content)) bad(`${f}.content`, "Field required");
    const blocks = m.content.map((b, j) => block(`${f}.content.${j}`, role, b));
    const out: Message[] =
      role === "user"
        ? userMessages(blocks)
        : (() => {
            const content = blocks.flatMap((b) => (b && "part" in b ? [b.part] : []));
            const toolCalls = blocks.flatMap((b) => (b && "call" in b ? [b.call] : []));
            return content.length || toolCalls.length ? [{ role, content, ...(toolCalls.length ? { toolCalls } : {}) }] : [];
          })();
    if (out.length === 0) bad(`${f}.content`, "a message needs at least one text, image, tool_use or tool_result block");
    return out;
  });
}

function system(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === "string") return v || undefined;
  if (!Array.isArray(v)) bad("system", "must be a string or a list of text blocks");
  const texts = v.map((b, i) => (isObject(b) && b.type === "text" && typeof b.text === "string" ? b.text : bad(`system.${i}`, "only text blocks are accepted")));
  return texts.join("\n\n") || undefined;
}

/** Custom tools ({name, description, input_schema}) as OpenAI function tools; server tools (a `type` of their own) untouched. */
function tools(v: unknown): unknown[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) bad("tools", "Input should be a valid list");
  return v.map((t, i) => {
    if (!isObject(t) || typeof t.name !== "string" || !t.name) bad(`tools.${i}.name`, "Field required");
    if (t.type !== undefined && t.type !== "custom") return t;
    if (!isObject(t.input_schema)) bad(`tools.${i}.input_schema`, "Field required");
    return { type: "function", function: { name: t.name, ...(typeof t.description === "string" ? { description: t.description } : {}), parameters: t.input_schema } };
  });
}

/** tool_choice as the neutral {@link ToolChoice} ("any" is "required"), which each adapter sends in its own shape. */
function toolChoice(v: unknown, hasTools: boolean): ToolChoice | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v) || !["auto", "any", "tool", "none"].includes(String(v.type))) bad("tool_choice.type", "Input should be 'auto', 'any', 'tool' or 'none'");
  if (v.type === "tool" && typeof v.name !== "string") bad("tool_choice.name", "Field required");
  if (!hasTools && v.type !== "none" && v.type !== "auto") bad("tool_choice", "tool_choice needs tools");
  if (v.disable_parallel_tool_use != null && typeof v.disable_parallel_tool_use !== "boolean") bad("tool_choice.disable_parallel_tool_use", "Input should be a valid boolean");
  const parallel = v.disable_parallel_tool_use === true ? { disableParallel: true } : {};
  if (v.type === "tool") return { type: "tool", name: v.name as string, ...parallel };
  return { type: v.type === "any" ? "required" : (v.type as "auto" | "none"), ...parallel };
}

function stopSequences(v: unknown): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.some((s) => typeof s !== "string" || !s)) bad("stop_sequences", "must be a list of non-empty strings");
  if (v.length > MAX_STOP_SEQUENCES) bad("stop_sequences", `at most ${MAX_STOP_SEQUENCES} stop sequences`);
  return v.length ? (v as string[]) : undefined;
}

/**
 * The body's fields as a command (modality TEXT). `stop_sequences` and `tool_choice` become the
 * provider-neutral `text.stop` and `text.toolChoice` (each adapter names them as its API does, so
 * a route or fallback to another vendor still works); `metadata` is checked and kept
 * out of the upstream call (the generation's user is already known). Other fields (`top_p`,
 * `top_k`, `thinking`, `service_tier`, …) are accepted and not forwarded, as a gateway in front of
 * several vendors must; `switchboard` is read by the route (headers.ts).
 */
export function parseMessagesRequest(body: unknown): MessagesRequest {
  if (!isObject(body)) bad("body", "the request body must be a JSON object");
  if (typeof body.model !== "string" || !body.model) bad("model", "Field required");
  const maxTokens = body.max_tokens;
  if (maxTokens === undefined || maxTokens === null) bad("max_tokens", "Field required");
  if (typeof maxTokens !== "number" || !Number.isInteger(maxTokens) || maxTokens < 1) bad("max_tokens", "Input should be a positive integer");
  const temperature = body.temperature;
  if (temperature !== undefined && (typeof temperature !== "number" || !(temperature >= 0 && temperature <= 1))) bad("temperature", "Input should be a number between 0 and 1");
  if (body.stream !== undefined && typeof body.stream !== "boolean") bad("stream", "Input should be a valid boolean");
  if (body.metadata !== undefined && (!isObject(body.metadata) || (body.metadata.user_id != null && typeof body.metadata.user_id !== "string"))) bad("metadata", "Input should be an object with an optional string user_id");

  const toolList = tools(body.tools);
  const choice = toolChoice(body.tool_choice, !!toolList?.length);
  const stop = stopSequences(body.stop_sequences);
  const cmd: CreateGenerationCommand = {
    modality: "TEXT",
    model: body.model,
    messages: messages(body.messages),
    system: system(body.system),
    text: {
      maxTokens, ...(temperature !== undefined ? { temperature } : {}), ...(toolList?.length ? { tools: toolList } : {}),
      ...(stop ? { stop } : {}), ...(choice ? { toolChoice: choice } : {}),
    },
  };
  return { cmd, stream: body.stream === true, model: body.model };
}
