/**
 * The `anthropic` adapter: Claude's Messages API through the official `@anthropic-ai/sdk`
 * (TEXT only). Every generation streams (`messages.create({ stream: true })`): text deltas go
 * to `call.onDelta`, tool_use blocks come back as OpenAI-shaped `toolCalls`, usage comes from
 * `message_start` / `message_delta`.
 *
 * What the installed SDK (1.x) changes, and how the adapter deals with it:
 * - It speaks API version `2026-10-21` (the `anthropic-version` header it sends). That version
 *   answers 400 to `temperature`, `top_p` and `top_k`, whatever their value, so
 *   `req.text.temperature` is NOT sent (the model samples at its default). A caller who really
 *   wants one can still put it in `params`, which pass through untouched (and will get the 400).
 * - It sends the API key as `Authorization: Bearer`. Anthropic documents `x-api-key` (its cURL
 *   examples, proxies and gateways read it; when both are present the API uses `x-api-key`), so
 *   each client sends the per-call key as `x-api-key` and leaves `Authorization` out.
 * - Given an explicit key it reads no credential from the environment or from profile files.
 *
 * Retries, breakers, key pools and timeouts live outside the adapter: the SDK runs with
 * `maxRetries: 0` and gets the caller's signal and timeout on every request.
 */
import Anthropic, { APIConnectionError, APIConnectionTimeoutError, APIError } from "@anthropic-ai/sdk";
import type { AdapterSettings } from "../adapter-settings";
import {
  ProviderError,
  type ChatMessage,
  type ContentPart,
  type GenerationProvider,
  type GenerationRequest,
  type GenerationResult,
  type ModelInfo,
  type ProviderCall,
  type ProviderProbeCall,
} from "../contract";
import { errorFromStatus, incompleteStream, messageOf, scrub, toProviderError } from "../errors";

/** When neither the request nor the catalog says how long an answer may be (Anthropic requires max_tokens). */
const DEFAULT_MAX_TOKENS = 1024;
/** Health checks carry no per-attempt timeout; the caller's signal still wins when shorter. */
const HEALTH_TIMEOUT_MS = 30_000;
/** Body keys that `params` may never override. */
const RESERVED = new Set(["model", "messages", "system", "stream", "max_tokens", "tools"]);
/**
 * `responseFormat: "JSON"`: the Messages API has no JSON mode without a schema
 * (`output_config.format` wants one), so the system prompt asks for JSON only.
 */
export const JSON_INSTRUCTION = "Answer with a single valid JSON value only: no prose before or after it, no Markdown code fences.";
/** Image types the Messages API accepts as base64 sources. */
const IMAGE_TYPES = new Set(["image/jpeg", "image/png", "image/gif", "image/webp"]);
/**
 * The `type` of an error event inside a 200 stream (`event: error`), as the HTTP status the
 * same error has when it comes before the stream (Anthropic's documented error types).
 */
const ERROR_TYPE_STATUS: Record<string, number> = {
  invalid_request_error: 400,
  authentication_error: 401,
  billing_error: 402,
  permission_error: 403,
  not_found_error: 404,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  timeout_error: 504,
  overloaded_error: 529,
};
/** Anthropic's stop_reason in the vocabulary the other adapters report (OpenAI's finish_reason); others pass through. */
const FINISH: Record<string, string> = {
  end_turn: "stop",
  stop_sequence: "stop",
  max_tokens: "length",
  tool_use: "tool_calls",
  refusal: "content_filter",
};

type Body = Record<string, unknown>;
type Block = Record<string, unknown>;

/** Rough token estimate (≈ 4 characters a token, at least 1) for a stream that reported no usage. */
function estimateTokens(text: string): number {
  let chars = 0;
  for (const _ of text) chars++;
  return Math.max(1, Math.ceil(chars / 4));
}

function textOf(parts: ContentPart[]): string {
  return parts.map((p) => (p.type === "text" ? p.text : "")).filter(Boolean).join("\n");
}

/** A tool_use block being assembled from its `input_json_delta`s. */
interface ToolAcc {
  id: string;
  name: string;
  json: string;
  input: unknown;
}

export class AnthropicProvider implements GenerationProvider {
  readonly id: string;
  readonly displayName: string;
  readonly simulated = false;
  readonly models: readonly ModelInfo[];
  readonly requiresKey: boolean;
  private readonly clients = new Map<string, Anthropic>();

  constructor(private readonly settings: AdapterSettings) {
    this.id = settings.id;
    this.displayName = settings.displayName;
    this.models = settings.models;
    this.requiresKey = settings.requiresKey;
  }

  async generate(req: GenerationRequest, call: ProviderCall): Promise<GenerationResult> {
    if (req.modality !== "TEXT") throw this.invalid(`${this.id} (anthropic) generates TEXT only, not ${req.modality}`);
    const body = this.body(req);
    const client = this.client(call.apiKey);

    let text = "";
    let emittedAny = false;
    let stopped = false;
    let stopReason: string | undefined;
    let inputTokens: number | undefined;
    let outputTokens: number | undefined;
    const tools = new Map<number, ToolAcc>();
    try {
      const stream = await client.messages.create(
        { ...body, stream: true } as unknown as Anthropic.MessageCreateParamsStreaming,
        this.requestOptions(call.signal, call.timeoutMs),
      );
      for await (const raw of stream) {
        const ev = raw as unknown as Body;
        switch (ev.type) {
          case "message_start": {
            const usage = (ev.message as Body | undefined)?.usage as Body | undefined;
            if (typeof usage?.input_tokens === "number") inputTokens = usage.input_tokens;
            if (typeof usage?.output_tokens === "number") outputTokens = usage.output_tokens;
            break;
          }
          case "content_block_start": {
            const block = ev.content_block as Block | undefined;
            const index = typeof ev.index === "number" ? ev.index : tools.size;
            if (block?.type === "tool_use") {
              tools.set(index, { id: String(block.id ?? ""), name: String(block.name ?? ""), json: "", input: block.input });
            } else if (block?.type === "text" && typeof block.text === "string" && block.text.length > 0) {
              text += block.text;
              emittedAny = true;
              call.onDelta(block.text);
            }
            break;
          }
          case "content_block_delta": {
            const delta = ev.delta as Block | undefined;
            if (delta?.type === "text_delta" && typeof delta.text === "string" && delta.text.length > 0) {
              text += delta.text;
              emittedAny = true;
              call.onDelta(delta.text);
            } else if (delta?.type === "input_json_delta" && typeof delta.partial_json === "string") {
              const acc = tools.get(typeof ev.index === "number" ? ev.index : -1);
              if (acc) acc.json += delta.partial_json;
            }
            // thinking_delta, signature_delta, citations_delta: not part of the answer text.
            break;
          }
          case "message_delta": {
            const d = ev.delta as Body | undefined;
            if (typeof d?.stop_reason === "string") stopReason = d.stop_reason;
            const usage = ev.usage as Body | undefined;
            // Cumulative counts: the last message_delta has the totals.
            if (typeof usage?.output_tokens === "number") outputTokens = usage.output_tokens;
            if (typeof usage?.input_tokens === "number") inputTokens = usage.input_tokens;
            break;
          }
          case "message_stop":
            stopped = true;
            break;
          default:
            break; // ping, content_block_stop, and event types newer than this adapter
        }
      }
    } catch (e) {
      throw this.fail(e, call.signal, emittedAny);
    }
    // The SDK ends a stream quietly when its request is aborted: never take that for an answer.
    if (call.signal.aborted) throw this.fail(call.signal.reason ?? new Error("aborted"), call.signal, emittedAny);
    if (!stopped) throw incompleteStream(this.id, emittedAny, "message_stop");

    const toolCalls = [...tools.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([i, t]) => ({
        id: t.id || `toolu_${i}`,
        type: "function" as const,
        function: { name: t.name, arguments: t.json || JSON.stringify(t.input ?? {}) },
      }));
    return {
      text,
      ...(toolCalls.length ? { toolCalls } : {}),
      usage: {
        inputTokens: inputTokens ?? estimateTokens(this.inputText(req)),
        outputTokens: outputTokens ?? (text ? estimateTokens(text) : 0),
      },
      ...(stopReason ? { finishReason: FINISH[stopReason] ?? stopReason } : {}),
    };
  }

  /** GET /v1/models (first page, one entry): cheap, and authenticated. */
  async healthCheck(call: ProviderProbeCall): Promise<void> {
    const client = this.client(call.apiKey);
    try {
      await client.models.list({ limit: 1 }, this.requestOptions(call.signal, HEALTH_TIMEOUT_MS));
    } catch (e) {
      throw this.fail(e, call.signal);
    }
  }

  // ── request body ──────────────────────────────────────────────────────────

  /** Our request as a Messages API body (without `stream`); throws invalid_request for what cannot be sent. */
  private body(req: GenerationRequest): Body {
    const systemParts: string[] = [];
    if (req.system) systemParts.push(req.system);
    const messages: Body[] = [];
    for (const m of req.messages ?? []) {
      if (m.role === "system") {
        const t = textOf(m.content);
        if (t) systemParts.push(t);
        continue;
      }
      messages.push(this.message(m));
    }
    if (req.prompt) messages.push({ role: "user", content: [{ type: "text", text: req.prompt }] });
    if (messages.length === 0) throw this.invalid("a text generation needs a prompt or messages");

    const t = req.text ?? {};
    if (t.responseFormat === "JSON") systemParts.push(JSON_INSTRUCTION);
    const model = this.models.find((m) => m.name === req.model);
    const maxTokens = t.maxTokens ?? model?.maxOutputTokens ?? DEFAULT_MAX_TOKENS;

    const body: Body = {};
    for (const [k, v] of Object.entries(req.params ?? {})) if (!RESERVED.has(k) && v !== undefined) body[k] = v;
    body.model = req.model;
    body.max_tokens = maxTokens;
    if (systemParts.length) body.system = systemParts.join("\n\n");
    body.messages = messages;
    if (t.tools?.length) body.tools = t.tools.map((tool, i) => this.tool(tool, i));
    // t.temperature is deliberately not sent: API version 2026-10-21 rejects it (see the file comment).
    return body;
  }

  private message(m: ChatMessage): Body {
    // The contract carries no tool_use_id, so a tool result cannot be a tool_result block:
    // it goes back as user text, which the model reads just as well.
    const role = m.role === "assistant" ? "assistant" : "user";
    const content: Block[] = [];
    for (const p of m.content) {
      if (p.type === "text") {
        if (p.text) content.push({ type: "text", text: m.role === "tool" ? `Tool result: ${p.text}` : p.text });
        continue;
      }
      if (role !== "user") throw this.invalid("images are accepted in user messages only");
      content.push({ type: "image", source: this.imageSource(p.url) });
    }
    if (content.length === 0) throw this.invalid(`a ${m.role} message has no content`);
    return { role, content };
  }

  /** data: URLs → base64 source; http(s) URLs → url source (Anthropic fetches them). */
  private imageSource(url: string): Block {
    if (/^https?:\/\//i.test(url)) return { type: "url", url };
    const m = /^data:([^;,]+)((?:;[^;,]*)*);base64,(.*)$/is.exec(url);
    if (!m) throw this.invalid("an image must be an http(s) URL or a base64 data: URL");
    const mediaType = m[1].toLowerCase() === "image/jpg" ? "image/jpeg" : m[1].toLowerCase();
    if (!IMAGE_TYPES.has(mediaType)) throw this.invalid(`image type ${mediaType} is not accepted (use JPEG, PNG, GIF or WebP)`);
    const data = m[3].replace(/\s+/g, "");
    if (!data) throw this.invalid("an image data: URL is empty");
    return { type: "base64", media_type: mediaType, data };
  }

  /** OpenAI function tools → Anthropic tools; tools already in Anthropic's shape pass through. */
  private tool(tool: unknown, i: number): Body {
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
    throw this.invalid(`text.tools[${i}] is neither an OpenAI function tool ({type:"function", function:{name, parameters}}) nor an Anthropic tool`);
  }

  private inputText(req: GenerationRequest): string {
    const parts: string[] = [];
    if (req.system) parts.push(req.system);
    for (const m of req.messages ?? []) parts.push(textOf(m.content));
    if (req.prompt) parts.push(req.prompt);
    return parts.join("\n");
  }

  // ── plumbing ──────────────────────────────────────────────────────────────

  /** One SDK client per key (the pool hands out a few keys; each client keeps its connections). */
  private client(apiKey: string | undefined): Anthropic {
    if (!apiKey && this.requiresKey) {
      throw new ProviderError({ provider: this.id, kind: "auth", message: `${this.id} needs an API key and none was given` });
    }
    const key = apiKey || "not-needed";
    let client = this.clients.get(key);
    if (!client) {
      client = new Anthropic({
        // An explicit key: the SDK then reads no key, token or profile from the environment.
        apiKey: key,
        baseURL: this.settings.baseUrl,
        maxRetries: 0,
        // The documented header; `Authorization: null` drops the SDK's own Bearer copy of the key.
        defaultHeaders: { ...this.settings.headers, "x-api-key": key, Authorization: null },
        // Failures are reported as ProviderErrors; the SDK would log raw stream bytes.
        logLevel: "off",
      });
      this.clients.set(key, client);
    }
    return client;
  }

  private requestOptions(signal: AbortSignal, timeoutMs: number): { signal: AbortSignal; timeout?: number } {
    // The SDK wants a positive integer.
    return Number.isFinite(timeoutMs) && timeoutMs > 0 ? { signal, timeout: Math.max(1, Math.ceil(timeoutMs)) } : { signal };
  }

  private invalid(message: string): ProviderError {
    return new ProviderError({ provider: this.id, kind: "invalid_request", message });
  }

  /** Any failure → ProviderError (shared mapping), plus the SDK's own timeout and `event: error` inside a stream. */
  private fail(e: unknown, signal: AbortSignal, partial = false): ProviderError {
    if (e instanceof ProviderError) return e;
    if (!signal.aborted && e instanceof APIConnectionTimeoutError) {
      return new ProviderError({ provider: this.id, kind: "timeout", partial, message: `${this.id} did not answer within the timeout` });
    }
    // `event: error` in a 200 stream (overloaded_error mid-answer …): an APIError without a status.
    if (!signal.aborted && e instanceof APIError && e.status === undefined && !(e instanceof APIConnectionError) && e.error) {
      const type = typeof e.type === "string" ? e.type : String((e.error as { error?: { type?: unknown } })?.error?.type ?? "");
      const message = messageOf(e.error) || type || "error event in the stream";
      const status = ERROR_TYPE_STATUS[type];
      if (status) {
        const pe = errorFromStatus(this.id, status, message);
        return partial ? new ProviderError({ provider: this.id, kind: pe.kind, status: pe.status, message: pe.message, partial }) : pe;
      }
      return new ProviderError({ provider: this.id, kind: "unavailable", partial, message: `${this.id} reported an error mid-stream: ${scrub(message)}` });
    }
    return toProviderError(this.id, e, signal, { partial });
  }
}

export function createAnthropicProvider(settings: AdapterSettings): GenerationProvider {
  return new AnthropicProvider(settings);
}
