/**
 * POST /v1/responses' body (the OpenAI Responses API) → a TEXT generation's command. Pure: the
 * route adds the `switchboard` options and the source. Only what maps onto one generation is
 * accepted; fields that need server-side conversation state (previous_response_id, conversation)
 * or other output kinds are refused with their `param`, never silently dropped.
 */
import { BadUserInputError } from "../../../common/errors";
import type { CreateGenerationCommand } from "../../../domain/generations/create-generation.command";
import type { ToolChoice } from "../../../providers/contract";

type Json = Record<string, unknown>;
type Message = NonNullable<CreateGenerationCommand["messages"]>[number];

/** What the route needs from the body: the command's own fields, and how to answer. */
export interface ResponsesRequest {
  cmd: Pick<CreateGenerationCommand, "modality" | "model" | "prompt" | "messages" | "system" | "text" | "params">;
  stream: boolean;
  /** An async generation: answered at once (queued), read later with GET /v1/responses/{id}. */
  background: boolean;
}

const bad = (param: string, message: string): never => {
  throw new BadUserInputError(message, { field: param });
};

const isObject = (v: unknown): v is Json => !!v && typeof v === "object" && !Array.isArray(v);

/** Fields whose meaning needs state or output this endpoint does not keep. */
const UNSUPPORTED = ["previous_response_id", "conversation", "prompt"] as const;

/** Responses API roles → ours (developer is OpenAI's newer name for system). */
const ROLE: Record<string, string> = { user: "user", assistant: "assistant", system: "system", developer: "system" };

function part(p: unknown, param: string): Message["content"][number] {
  if (!isObject(p)) return bad(param, "a content part must be an object");
  if (p.type === "input_text" || p.type === "output_text") {
    if (typeof p.text !== "string") bad(`${param}.text`, "a text part needs `text`");
    return { type: "text", text: p.text as string };
  }
  if (p.type === "input_image") {
    if (typeof p.image_url !== "string") bad(`${param}.image_url`, "an input_image part needs `image_url` (an http(s) or data:image URL; file_id is not supported)");
    return { type: "image_url", url: p.image_url as string };
  }
  return bad(`${param}.type`, `content part type must be input_text, input_image or output_text, got ${JSON.stringify(p.type)}`);
}

/**
 * A function_call item (the model's earlier call: joins the assistant turn before it, or starts
 * one) or a function_call_output item (a tool message): their call_id carried through, so the
 * upstream gets them as tool_calls / tool_call_id or tool_use / tool_result.
 */
function toolItem(item: Json, param: string, messages: Message[]): void {
  if (typeof item.call_id !== "string" || !item.call_id) bad(`${param}.call_id`, `a ${String(item.type)} item needs call_id`);
  const id = item.call_id as string;
  if (item.type === "function_call_output") {
    if (typeof item.output !== "string") bad(`${param}.output`, "a function_call_output item needs output (a string)");
    messages.push({ role: "tool", content: item.output ? [{ type: "text", text: item.output as string }] : [], toolCallId: id });
    return;
  }
  if (typeof item.name !== "string" || !item.name) bad(`${param}.name`, "a function_call item needs name");
  if (item.arguments != null && typeof item.arguments !== "string") bad(`${param}.arguments`, "arguments must be a JSON string");
  const call = { id, name: item.name as string, arguments: (item.arguments as string | undefined) ?? "" };
  const last = messages.at(-1);
  if (last?.role === "assistant") last.toolCalls = [...(last.toolCalls ?? []), call];
  else messages.push({ role: "assistant", content: [], toolCalls: [call] });
}

/** `input` as messages: system-role items are folded into the system text (with `instructions` first). */
function messagesOf(input: unknown[]): { messages: Message[]; system: string[] } {
  const messages: Message[] = [];
  const system: string[] = [];
  input.forEach((item, i) => {
    const param = `input[${i}]`;
    if (!isObject(item)) return bad(param, "an input item must be an object");
    if (item.type === "function_call" || item.type === "function_call_output") return void toolItem(item, param, messages);
    if (item.type != null && item.type !== "message")
      bad(`${param}.type`, `input item type must be "message", "function_call" or "function_call_output", got ${JSON.stringify(item.type)}`);
    const role = typeof item.role === "string" ? ROLE[item.role] : undefined;
    if (!role) return bad(`${param}.role`, "role must be one of user, assistant, system, developer");
    const content = typeof item.content === "string" ? [{ type: "text", text: item.content }] : Array.isArray(item.content) ? item.content.map((p, j) => part(p, `${param}.content[${j}]`)) : bad(`${param}.content`, "content must be a string or a list of parts");
    if (role === "system") {
      if (content.some((c) => c.type !== "text")) bad(`${param}.content`, "a system or developer message takes text only");
      system.push(content.map((c) => c.text).join("\n"));
    } else messages.push({ role, content });
  });
  return { messages, system };
}

/** Function tools in the Responses API's flat shape → the chat shape adapters pass through; other tools as they are. */
function toolsOf(tools: unknown): unknown[] {
  if (!Array.isArray(tools)) return bad("tools", "tools must be a list");
  return tools.map((t, i) => {
    if (!isObject(t)) return bad(`tools[${i}]`, "a tool must be an object");
    if (t.type !== "function" || isObject(t.function)) return t;
    if (typeof t.name !== "string" || !t.name) bad(`tools[${i}].name`, "a function tool needs a name");
    const fn: Json = { name: t.name };
    if (t.description != null) fn.description = t.description;
    if (t.parameters != null) fn.parameters = t.parameters;
    if (t.strict != null) fn.strict = t.strict;
    return { type: "function", function: fn };
  });
}

/**
 * `tool_choice` (none, auto, required or {type: "function", name}) and `parallel_tool_calls: false`
 * as the neutral {@link ToolChoice} each adapter sends in its own shape; hosted-tool and
 * allowed_tools choices have no equivalent on a chat upstream and are refused.
 */
function toolChoiceOf(v: unknown, disableParallel: boolean): ToolChoice | undefined {
  const parallel = disableParallel ? { disableParallel } : {};
  if (v == null) return disableParallel ? { type: "auto", ...parallel } : undefined;
  if (v === "none" || v === "auto" || v === "required") return { type: v, ...parallel };
  if (isObject(v) && v.type === "function") {
    if (typeof v.name !== "string" || !v.name) bad("tool_choice.name", "a function tool_choice needs a name");
    return { type: "tool", name: v.name as string, ...parallel };
  }
  return bad("tool_choice", 'tool_choice must be "none", "auto", "required" or {"type": "function", "name": …}');
}

function flag(body: Json, key: string): boolean {
  const v = body[key];
  if (v == null) return false;
  if (typeof v !== "boolean") bad(key, `${key} must be true or false`);
  return v as boolean;
}

function num(body: Json, key: string): number | undefined {
  const v = body[key];
  if (v == null) return undefined;
  if (typeof v !== "number" || !Number.isFinite(v)) return bad(key, `${key} must be a number`);
  return v;
}

/** `text.format`: text (default), json_object or json_schema (both JSON output; the schema goes to the provider). */
function formatOf(text: unknown): { responseFormat?: "JSON"; params?: Json } {
  if (text == null) return {};
  if (!isObject(text)) return bad("text", "text must be an object");
  const f = text.format;
  if (f == null) return {};
  if (!isObject(f) || typeof f.type !== "string") return bad("text.format", "text.format must be an object with a type");
  if (f.type === "text") return {};
  if (f.type === "json_object") return { responseFormat: "JSON" };
  if (f.type === "json_schema") {
    if (!isObject(f.schema)) bad("text.format.schema", "a json_schema format needs `schema`");
    const { type: _t, ...schema } = f;
    return { responseFormat: "JSON", params: { response_format: { type: "json_schema", json_schema: schema } } };
  }
  return bad("text.format.type", "text.format.type must be text, json_object or json_schema");
}

/**
 * Maps the body.
 *
 * @throws BadUserInputError naming the field (`param`): a missing model or input, a wrong type,
 *   an unsupported field or input item.
 */
export function parseResponsesRequest(body: Json): ResponsesRequest {
  for (const k of UNSUPPORTED) if (body[k] != null) bad(k, `${k} is not supported by Switchboard's /v1/responses; send the whole conversation in input`);
  if (typeof body.model !== "string" || !body.model) bad("model", "model is required (a catalog id, an alias or auto)");
  if (body.instructions != null && typeof body.instructions !== "string") bad("instructions", "instructions must be a string");
  const input = body.input;
  if (input == null || input === "" || (Array.isArray(input) && !input.length)) bad("input", "input is required (a string or a list of messages)");
  if (typeof input !== "string" && !Array.isArray(input)) bad("input", "input must be a string or a list of messages");
  const { messages, system } = Array.isArray(input) ? messagesOf(input) : { messages: [], system: [] };
  if (Array.isArray(input) && !messages.length) bad("input", "input needs at least one user or assistant message");
  const sys = [body.instructions as string | undefined, ...system].filter((s): s is string => !!s);

  const format = formatOf(body.text);
  const temperature = num(body, "temperature");
  const maxTokens = num(body, "max_output_tokens");
  if (maxTokens != null && (!Number.isInteger(maxTokens) || maxTokens < 1)) bad("max_output_tokens", "max_output_tokens must be a positive whole number");
  const params: Json = { ...format.params };
  const topP = num(body, "top_p");
  if (topP != null) params.top_p = topP;
  const tools = body.tools != null ? toolsOf(body.tools) : undefined;
  const noParallel = body.parallel_tool_calls != null && !flag(body, "parallel_tool_calls") && !!tools?.length;
  const toolChoice = toolChoiceOf(body.tool_choice, noParallel);
  const text: NonNullable<CreateGenerationCommand["text"]> = {
    ...(temperature != null ? { temperature } : {}),
    ...(maxTokens != null ? { maxTokens } : {}),
    ...(format.responseFormat ? { responseFormat: format.responseFormat } : {}),
    ...(tools ? { tools } : {}),
    ...(toolChoice ? { toolChoice } : {}),
  };
  return {
    cmd: {
      modality: "TEXT",
      model: body.model as string,
      ...(typeof input === "string" ? { prompt: input } : { messages }),
      ...(sys.length ? { system: sys.join("\n\n") } : {}),
      ...(Object.keys(text).length ? { text } : {}),
      ...(Object.keys(params).length ? { params } : {}),
    },
    stream: flag(body, "stream"),
    background: flag(body, "background"),
  };
}
