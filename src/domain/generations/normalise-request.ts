/**
 * Turns a createGeneration command into a validated, normalised provider request.
 * Pure: every problem is a BadUserInputError naming the field; nothing is written.
 */
import { BadUserInputError } from "../../common/errors";
import type { ChatMessage, GenerationRequest, ModelInfo } from "../../providers/contract";
import type { ProviderRegistry } from "../../providers/registry";
import type { CreateGenerationCommand } from "./create-generation.command";
import { boundsProblem, urlTextProblem, type BoundedField } from "./input-bounds";

export interface RequestLimits {
  maxPromptChars: number;
  maxMessages: number;
  maxParamsBytes: number;
  maxWaitSeconds: number;
}

export interface NormalisedRequest {
  request: GenerationRequest;
  model: ModelInfo;
}

const OPTION_MODALITY = { text: "TEXT", image: "IMAGE", video: "VIDEO", audio: "AUDIO" } as const;
const ROLES = new Set(["system", "user", "assistant", "tool"]);

function bad(field: string, message: string): never {
  throw new BadUserInputError(message, { field });
}

function checkText(field: string, v: string, max: number): string {
  const t = v.trim();
  if (!t) bad(field, `${field} must not be empty`);
  if (t.length > max) bad(field, `${field} is ${t.length} characters; the limit is ${max}`);
  return t;
}

function normaliseMessages(cmd: CreateGenerationCommand, limits: RequestLimits): ChatMessage[] | undefined {
  if (cmd.messages == null) return undefined;
  if (!cmd.messages.length) bad("messages", "messages must not be empty");
  if (cmd.messages.length > limits.maxMessages) bad("messages", `at most ${limits.maxMessages} messages`);
  let total = 0;
  return cmd.messages.map((m, i) => {
    if (!ROLES.has(m.role)) bad(`messages[${i}].role`, `role must be one of ${[...ROLES].join(", ")}`);
    const toolCalls = normaliseToolCalls(m, i, limits);
    total += toolCalls?.reduce((n, c) => n + c.arguments.length, 0) ?? 0;
    // An assistant turn may be tool calls only; a tool result may be empty.
    if (!m.content?.length && !toolCalls && !(m.role === "tool" && m.toolCallId)) bad(`messages[${i}].content`, "a message needs at least one content part");
    const content = (m.content ?? []).map((c, j) => {
      const f = `messages[${i}].content[${j}]`;
      if (c.type === "text") {
        if (typeof c.text !== "string") bad(f, "a text part needs `text`");
        total += c.text.length;
        return { type: "text" as const, text: checkText(`${f}.text`, c.text, limits.maxPromptChars) };
      }
      if (c.type === "image_url") {
        if (!c.url || !/^(https?:|data:image\/)/.test(c.url)) bad(f, "an image_url part needs an http(s) or data:image URL");
        checkUrlText(`${f}.url`, c.url);
        return { type: "image_url" as const, url: c.url };
      }
      return bad(f, `content type must be "text" or "image_url"`);
    });
    if (total > limits.maxPromptChars) bad("messages", `messages total ${total} characters; the limit is ${limits.maxPromptChars}`);
    const out: ChatMessage = { role: m.role as ChatMessage["role"], content };
    if (toolCalls) out.toolCalls = toolCalls;
    if (m.toolCallId != null) {
      if (m.role !== "tool") bad(`messages[${i}].toolCallId`, "only a tool message answers a tool call");
      out.toolCallId = checkId(`messages[${i}].toolCallId`, m.toolCallId);
    }
    if (m.toolError === true) {
      if (m.role !== "tool") bad(`messages[${i}].toolError`, "only a tool message reports a tool error");
      out.toolError = true;
    }
    return out;
  });
}

/** Longest tool call id accepted (OpenAI's are ~30 characters, Anthropic's ~30). */
const MAX_TOOL_ID = 256;
/** Most tool calls one assistant message may carry. */
const MAX_TOOL_CALLS = 128;

function checkId(field: string, v: unknown): string {
  if (typeof v !== "string" || !v || v.length > MAX_TOOL_ID) bad(field, `must be a string of 1 to ${MAX_TOOL_ID} characters`);
  return v as string;
}

/** An assistant message's tool calls: ids, names and JSON-text arguments, checked. */
function normaliseToolCalls(m: NonNullable<CreateGenerationCommand["messages"]>[number], i: number, limits: RequestLimits): ChatMessage["toolCalls"] {
  if (m.toolCalls == null) return undefined;
  const f = `messages[${i}].toolCalls`;
  if (m.role !== "assistant") bad(f, "only an assistant message makes tool calls");
  if (!Array.isArray(m.toolCalls) || !m.toolCalls.length) bad(f, "toolCalls must be a non-empty list");
  if (m.toolCalls.length > MAX_TOOL_CALLS) bad(f, `at most ${MAX_TOOL_CALLS} tool calls`);
  return m.toolCalls.map((c, j) => {
    const id = checkId(`${f}[${j}].id`, c?.id);
    if (typeof c.name !== "string" || !c.name || c.name.length > MAX_TOOL_ID) bad(`${f}[${j}].name`, `must be a string of 1 to ${MAX_TOOL_ID} characters`);
    if (typeof c.arguments !== "string" || c.arguments.length > limits.maxPromptChars) bad(`${f}[${j}].arguments`, "must be JSON text");
    return { id, name: c.name, arguments: c.arguments };
  });
}

function checkUrlText(field: string, url: string): void {
  const problem = urlTextProblem(field, url);
  if (problem) bad(field, problem);
}

/** Every number a command carries, against what storage holds (finite, in range, whole where stored as an integer). */
function checkNumbers(cmd: CreateGenerationCommand): void {
  const values: [BoundedField, unknown][] = [
    ["maxCostUsd", cmd.maxCostUsd], ["requirements.maxCostUsd", cmd.requirements?.maxCostUsd], ["requirements.minQuality", cmd.requirements?.minQuality],
    ["deadlineSeconds", cmd.deadlineSeconds], ["wait", cmd.wait], ["seed", cmd.seed],
    ["text.temperature", cmd.text?.temperature], ["text.maxTokens", cmd.text?.maxTokens],
    ["image.width", cmd.image?.width], ["image.height", cmd.image?.height], ["image.count", cmd.image?.count],
    ["video.durationSeconds", cmd.video?.durationSeconds], ["audio.speed", cmd.audio?.speed], ["audio.durationSeconds", cmd.audio?.durationSeconds],
  ];
  for (const [field, v] of values) {
    const problem = boundsProblem(field, v);
    if (problem) bad(field, problem);
  }
}

/** Postgres rejects NUL in text and jsonb and unpaired surrogates in jsonb; TypeORM recurses through jsonb values on insert. */
const MAX_INPUT_DEPTH = 32;
function checkStorable(field: string, v: unknown, depth = 0): void {
  if (typeof v === "string" && /\u0000|\p{Cs}/u.test(v)) bad(field, `${field} contains a NUL character or malformed Unicode`);
  if (!v || typeof v !== "object") return;
  if (depth >= MAX_INPUT_DEPTH) bad(field, `input is nested deeper than ${MAX_INPUT_DEPTH} levels`);
  for (const [k, x] of Object.entries(v)) {
    checkStorable(field ? `${field}.${k}` : k, k, depth + 1);
    checkStorable(field ? `${field}.${k}` : k, x, depth + 1);
  }
}

function normaliseParams(params: unknown, limits: RequestLimits): Record<string, unknown> {
  if (params === undefined || params === null) return {};
  if (typeof params !== "object" || Array.isArray(params)) bad("params", "params must be a JSON object");
  const size = Buffer.byteLength(JSON.stringify(params));
  if (size > limits.maxParamsBytes) bad("params", `params is ${size} bytes; the limit is ${limits.maxParamsBytes}`);
  return params as Record<string, unknown>;
}

/**
 * @param routed the primary candidate when routing chose it (aliases, `auto`, fallbacks);
 *   otherwise `cmd.model` must be a catalog id.
 */
export function normaliseRequest(cmd: CreateGenerationCommand, registry: ProviderRegistry, limits: RequestLimits, routed?: ModelInfo): NormalisedRequest {
  checkStorable("", cmd);
  if (cmd.video?.imageUrl != null) checkUrlText("video.imageUrl", cmd.video.imageUrl);
  if (cmd.callbackUrl != null) checkUrlText("callbackUrl", cmd.callbackUrl);
  const model = routed ?? registry.model(cmd.model);
  if (!model) {
    const known = registry.listModels(cmd.modality).map((m) => m.id);
    bad("model", `unknown model "${cmd.model}"; models for ${cmd.modality}: ${known.join(", ") || "none"}`);
  }
  if (model.modality !== cmd.modality) bad("model", `model ${model.id} is ${model.modality}, not ${cmd.modality}`);
  for (const [opt, modality] of Object.entries(OPTION_MODALITY)) {
    if (cmd[opt as keyof typeof OPTION_MODALITY] != null && cmd.modality !== modality)
      bad(opt, `\`${opt}\` options apply to ${modality} generations, not ${cmd.modality}`);
  }
  checkNumbers(cmd);
  const prompt = cmd.prompt == null ? undefined : checkText("prompt", cmd.prompt, limits.maxPromptChars);
  const messages = normaliseMessages(cmd, limits);
  if (messages && cmd.modality !== "TEXT") bad("messages", "messages apply to TEXT generations; use prompt");
  if (!prompt && !messages) bad("prompt", "give a prompt or messages");
  const system = cmd.system == null ? undefined : checkText("system", cmd.system, limits.maxPromptChars);
  if (cmd.wait != null && (cmd.wait < 0 || cmd.wait > limits.maxWaitSeconds))
    bad("wait", `wait must be between 0 and ${limits.maxWaitSeconds} seconds`);
  if (cmd.idempotencyKey != null && (cmd.idempotencyKey.length < 1 || cmd.idempotencyKey.length > 200))
    bad("idempotencyKey", "idempotencyKey must be 1 to 200 characters");

  const request: GenerationRequest = {
    modality: cmd.modality,
    model: model.name,
    prompt,
    messages,
    system,
    params: normaliseParams(cmd.params, limits),
    seed: cmd.seed ?? undefined,
  };
  if (cmd.modality === "TEXT") request.text = { ...(cmd.text ?? {}) };
  if (cmd.modality === "IMAGE") {
    const i = cmd.image ?? {};
    request.image = { width: i.width ?? 512, height: i.height ?? 512, count: i.count ?? 1, ...(i.style ? { style: i.style } : {}) };
  }
  if (cmd.modality === "VIDEO") {
    const v = cmd.video ?? {};
    request.video = { durationSeconds: v.durationSeconds ?? 5, ...(v.resolution ? { resolution: v.resolution } : {}), ...(v.imageUrl ? { imageUrl: v.imageUrl } : {}) };
  }
  if (cmd.modality === "AUDIO") request.audio = { ...(cmd.audio ?? {}) } as GenerationRequest["audio"];
  stripNullish(request);
  const problem = registry.provider(model.provider)?.validateRequest?.(request);
  if (problem) bad("params", problem);
  return { request, model };
}

function stripNullish(o: object): void {
  for (const [k, v] of Object.entries(o)) {
    if (v === undefined || v === null) delete (o as Record<string, unknown>)[k];
    else if (typeof v === "object" && !Array.isArray(v) && k !== "params") stripNullish(v);
  }
}
