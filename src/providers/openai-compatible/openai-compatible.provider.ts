/**
 * The `openai-compatible` adapter: one implementation, configured per vendor (OpenAI,
 * OpenRouter, Groq, Together, LM Studio, vLLM, Ollama's /v1 …) through {@link AdapterSettings}.
 * It speaks OpenAI's documented wire format through the official `openai` SDK:
 * streamed chat completions (TEXT), embeddings (EMBEDDING, micro-batched through
 * {@link OpenAICompatibleProvider.embedBatch}) and image generations (IMAGE).
 *
 * Retries, breakers, key pools and timeouts live outside the adapter: the SDK runs with
 * `maxRetries: 0`, gets the caller's signal and timeout on every request, and every failure
 * leaves as a {@link ProviderError} (src/providers/errors.ts).
 */
import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError } from "openai";
import { imageSize } from "image-size";
import type { AdapterSettings } from "../adapter-settings";
import {
  ProviderError,
  type ChatMessage,
  type ContentPart,
  type GenerationProvider,
  type GenerationRequest,
  type GenerationResult,
  type MediaOutput,
  type ModelInfo,
  type ProviderCall,
  type ProviderProbeCall,
} from "../contract";
import { errorFromStatus, incompleteStream, messageOf, scrub, toProviderError } from "../errors";

/** Sent as the bearer token to servers that need none (Ollama, LM Studio, vLLM without auth). */
const NO_KEY = "not-needed";
/** Health checks carry no per-attempt timeout; the caller's signal still wins when shorter. */
const HEALTH_TIMEOUT_MS = 30_000;
/** Body keys that `params` may never override. */
const RESERVED_TEXT = new Set(["model", "messages", "stream", "stream_options"]);
const RESERVED_EMBEDDING = new Set(["model", "input", "encoding_format"]);
const RESERVED_IMAGE = new Set(["model", "prompt", "n", "size", "response_format"]);
/** Mime types for the `type` image-size reports. */
const MIME: Record<string, string> = {
  png: "image/png",
  jpg: "image/jpeg",
  webp: "image/webp",
  gif: "image/gif",
  heif: "image/heif",
  avif: "image/avif",
  bmp: "image/bmp",
  tiff: "image/tiff",
  svg: "image/svg+xml",
};

/** Rough token estimate (≈ 4 characters a token, at least 1) for servers that report no usage. */
function estimateTokens(text: string): number {
  let chars = 0;
  for (const _ of text) chars++;
  return Math.max(1, Math.ceil(chars / 4));
}

/** A streamed tool call being assembled from its deltas (OpenAI shape). */
interface ToolCallAcc {
  id: string;
  type: "function";
  function: { name: string; arguments: string };
}

type Body = Record<string, unknown>;

/** `params` without the keys the adapter owns. */
function extras(params: Record<string, unknown> | undefined, reserved: Set<string>): Body {
  const out: Body = {};
  for (const [k, v] of Object.entries(params ?? {})) if (!reserved.has(k) && v !== undefined) out[k] = v;
  return out;
}

function textOf(parts: ContentPart[]): string {
  return parts.map((p) => (p.type === "text" ? p.text : "")).filter(Boolean).join("\n");
}

/** One of our messages as an OpenAI chat message (user messages keep image parts: vision). */
function toOpenAIMessage(m: ChatMessage): Body {
  if (m.role === "user") {
    const hasImage = m.content.some((p) => p.type === "image_url");
    if (!hasImage && m.content.length === 1) return { role: "user", content: textOf(m.content) };
    return {
      role: "user",
      content: m.content.map((p) => (p.type === "text" ? { type: "text", text: p.text } : { type: "image_url", image_url: { url: p.url } })),
    };
  }
  if (m.role === "tool") {
    // Our contract carries no tool_call_id; accept one when the caller added it to the message.
    const extra = m as unknown as { toolCallId?: unknown; tool_call_id?: unknown };
    const id = typeof extra.tool_call_id === "string" ? extra.tool_call_id : typeof extra.toolCallId === "string" ? extra.toolCallId : undefined;
    return { role: "tool", content: textOf(m.content), ...(id ? { tool_call_id: id } : {}) };
  }
  return { role: m.role, content: textOf(m.content) };
}

/** Everything the model reads, for the input-token estimate. */
function inputText(req: GenerationRequest): string {
  const parts: string[] = [];
  if (req.system) parts.push(req.system);
  for (const m of req.messages ?? []) parts.push(textOf(m.content));
  if (req.prompt) parts.push(req.prompt);
  return parts.join("\n");
}

/** Splits `total` over `weights` (largest remainder): the shares sum to `total`, each at least 1 when total allows. */
export function splitProportionally(total: number, weights: number[]): number[] {
  const n = weights.length;
  if (n === 0) return [];
  const sum = weights.reduce((a, b) => a + b, 0);
  if (total <= n) return weights.map((_, i) => (i < total ? 1 : 0));
  // Everyone gets 1 first; the rest goes out in proportion.
  const rest = total - n;
  const exact = weights.map((w) => (sum > 0 ? (w / sum) * rest : rest / n));
  const shares = exact.map((x) => Math.floor(x));
  let left = rest - shares.reduce((a, b) => a + b, 0);
  const order = exact.map((x, i) => [x - Math.floor(x), i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (const [, i] of order) {
    if (left <= 0) break;
    shares[i]++;
    left--;
  }
  return shares.map((s) => s + 1);
}

function mimeFor(type: string | undefined): string | undefined {
  return type ? MIME[type] : undefined;
}

export class OpenAICompatibleProvider implements GenerationProvider {
  readonly id: string;
  readonly displayName: string;
  readonly simulated = false;
  readonly models: readonly ModelInfo[];
  readonly requiresKey: boolean;
  private readonly clients = new Map<string, OpenAI>();
  /** OpenAI itself wants `max_completion_tokens` (o-series and newer reject `max_tokens`); other vendors know `max_tokens`. */
  private readonly maxTokensField: "max_tokens" | "max_completion_tokens";

  constructor(private readonly settings: AdapterSettings) {
    this.id = settings.id;
    this.displayName = settings.displayName;
    this.models = settings.models;
    this.requiresKey = settings.requiresKey;
    let host = "";
    try {
      host = new URL(settings.baseUrl).hostname;
    } catch {
      /* a bad base URL fails on the first call */
    }
    this.maxTokensField = host === "api.openai.com" ? "max_completion_tokens" : "max_tokens";
  }

  async generate(req: GenerationRequest, call: ProviderCall): Promise<GenerationResult> {
    switch (req.modality) {
      case "TEXT":
        return this.chat(req, call);
      case "EMBEDDING":
        return (await this.embed([req], call))[0];
      case "IMAGE":
        return this.image(req, call);
      default:
        throw this.invalid(`${this.id} (openai-compatible) does not generate ${req.modality}`);
    }
  }

  async embedBatch(reqs: GenerationRequest[], call: ProviderCall): Promise<GenerationResult[]> {
    if (reqs.length === 0) return [];
    const bad = reqs.find((r) => r.modality !== "EMBEDDING");
    if (bad) throw this.invalid(`embedBatch got a ${bad.modality} request`);
    return this.embed(reqs, call);
  }

  async healthCheck(call: ProviderProbeCall): Promise<void> {
    const client = this.client(call.apiKey);
    try {
      // Awaiting the page promise fetches the first page only.
      await client.models.list({ signal: call.signal, timeout: HEALTH_TIMEOUT_MS });
    } catch (e) {
      throw this.fail(e, call.signal);
    }
  }

  // ── TEXT ──────────────────────────────────────────────────────────────────

  private chatBody(req: GenerationRequest): Body {
    const messages: Body[] = [];
    if (req.system) messages.push({ role: "system", content: req.system });
    for (const m of req.messages ?? []) messages.push(toOpenAIMessage(m));
    if (req.prompt) messages.push({ role: "user", content: req.prompt });
    if (messages.length === 0 || !messages.some((m) => m.role !== "system")) throw this.invalid("a text generation needs a prompt or messages");

    const t = req.text ?? {};
    const body: Body = { ...extras(req.params, RESERVED_TEXT) };
    if (t.temperature !== undefined) body.temperature = t.temperature;
    if (t.maxTokens !== undefined) {
      // A vendor extra naming the other field wins: send exactly one of them.
      const other = this.maxTokensField === "max_tokens" ? "max_completion_tokens" : "max_tokens";
      body[other in body ? other : this.maxTokensField] = t.maxTokens;
    }
    if (t.responseFormat === "JSON") body.response_format = { type: "json_object" };
    if (t.tools?.length) body.tools = t.tools;
    if (req.seed !== undefined) body.seed = req.seed;
    body.model = req.model;
    body.messages = messages;
    body.stream = true;
    body.stream_options = { include_usage: true };
    return body;
  }

  private async chat(req: GenerationRequest, call: ProviderCall): Promise<GenerationResult> {
    const body = this.chatBody(req);
    const client = this.client(call.apiKey);
    let emittedAny = false;
    let text = "";
    let finishReason: string | undefined;
    let usage: { prompt_tokens?: number; completion_tokens?: number } | undefined;
    const tools: ToolCallAcc[] = [];
    try {
      const stream = await client.chat.completions.create(
        body as unknown as OpenAI.Chat.ChatCompletionCreateParamsStreaming,
        this.requestOptions(call),
      );
      for await (const chunk of stream) {
        if (chunk.usage) usage = chunk.usage;
        for (const choice of chunk.choices ?? []) {
          if ((choice.index ?? 0) !== 0) continue;
          const delta = choice.delta;
          if (typeof delta?.content === "string" && delta.content.length > 0) {
            text += delta.content;
            emittedAny = true;
            call.onDelta(delta.content);
          }
          for (const tc of delta?.tool_calls ?? []) {
            const i = tc.index ?? tools.length;
            const acc = (tools[i] ??= { id: "", type: "function", function: { name: "", arguments: "" } });
            if (tc.id) acc.id = tc.id;
            // The name comes whole in the first delta; some servers repeat it, so it is set once.
            if (tc.function?.name && !acc.function.name) acc.function.name = tc.function.name;
            if (tc.function?.arguments) acc.function.arguments += tc.function.arguments;
          }
          if (choice.finish_reason) finishReason = choice.finish_reason;
        }
      }
    } catch (e) {
      throw this.fail(e, call.signal, emittedAny);
    }
    // The SDK ends a stream quietly when its request is aborted: never take that for an answer.
    if (call.signal.aborted) throw this.fail(call.signal.reason ?? new Error("aborted"), call.signal, emittedAny);
    if (!finishReason) throw incompleteStream(this.id, emittedAny, "finish_reason");
    const toolCalls = tools.filter(Boolean).map((t, i) => (t.id ? t : { ...t, id: `call_${i}` }));
    return {
      text,
      ...(toolCalls.length ? { toolCalls } : {}),
      usage: {
        inputTokens: usage?.prompt_tokens ?? estimateTokens(inputText(req)),
        outputTokens: usage?.completion_tokens ?? (text ? estimateTokens(text) : toolCalls.length ? estimateTokens(JSON.stringify(toolCalls)) : 0),
      },
      finishReason,
    };
  }

  // ── EMBEDDING ─────────────────────────────────────────────────────────────

  private async embed(reqs: GenerationRequest[], call: ProviderCall): Promise<GenerationResult[]> {
    const model = reqs[0].model;
    if (reqs.some((r) => r.model !== model)) throw this.invalid("embedBatch needs one model for the whole batch");
    const inputs = reqs.map((r) => r.prompt ?? (r.messages ? r.messages.map((m) => textOf(m.content)).join("\n") : ""));
    const empty = inputs.findIndex((s) => s.length === 0);
    if (empty >= 0) throw this.invalid(`embedding input ${empty} is empty`);

    const client = this.client(call.apiKey);
    let res: OpenAI.CreateEmbeddingResponse;
    try {
      res = await client.embeddings.create(
        {
          ...extras(reqs[0].params, RESERVED_EMBEDDING),
          model,
          input: reqs.length === 1 ? inputs[0] : inputs,
          // Explicit floats: left unset the SDK asks for base64, which several compatible servers ignore.
          encoding_format: "float",
        } as OpenAI.EmbeddingCreateParams,
        this.requestOptions(call),
      );
    } catch (e) {
      throw this.fail(e, call.signal);
    }
    const data = (res as unknown as { data?: unknown })?.data;
    if (!Array.isArray(data) || data.length !== reqs.length) {
      throw this.badResponse(`expected ${reqs.length} embedding(s), got ${Array.isArray(data) ? data.length : "none"}`);
    }
    const vectors: number[][] = new Array(reqs.length);
    data.forEach((item: { index?: unknown; embedding?: unknown }, pos) => {
      const i = typeof item?.index === "number" ? item.index : pos;
      const v = item?.embedding;
      if (i < 0 || i >= reqs.length || vectors[i] || !Array.isArray(v) || !v.every((x) => typeof x === "number" && Number.isFinite(x))) {
        throw this.badResponse(`embedding ${pos} is not a usable vector for input ${i}`);
      }
      vectors[i] = v as number[];
    });
    const estimates = inputs.map(estimateTokens);
    const reported = res.usage?.prompt_tokens;
    const tokens = typeof reported === "number" && reported > 0 ? splitProportionally(reported, estimates) : estimates;
    return vectors.map((embedding, i) => ({ embedding, usage: { inputTokens: tokens[i] } }));
  }

  // ── IMAGE ─────────────────────────────────────────────────────────────────

  private async image(req: GenerationRequest, call: ProviderCall): Promise<GenerationResult> {
    if (!req.prompt) throw this.invalid("an image generation needs a prompt");
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

    const client = this.client(call.apiKey);
    let res: OpenAI.ImagesResponse;
    try {
      res = await client.images.generate(body as unknown as OpenAI.ImageGenerateParamsNonStreaming, this.requestOptions(call));
    } catch (e) {
      throw this.fail(e, call.signal);
    }
    const data = (res as unknown as { data?: unknown })?.data;
    if (!Array.isArray(data) || data.length === 0) throw this.badResponse("the answer holds no images");

    const media: MediaOutput[] = [];
    for (const [i, item] of (data as { b64_json?: unknown; url?: unknown }[]).entries()) {
      let bytes: Buffer;
      if (typeof item?.b64_json === "string" && item.b64_json.length > 0) bytes = Buffer.from(item.b64_json, "base64");
      else if (typeof item?.url === "string" && item.url.length > 0) bytes = await this.download(item.url, call);
      else throw this.badResponse(`image ${i} has neither b64_json nor url`);
      let size: { width: number; height: number; type?: string };
      try {
        size = imageSize(bytes);
      } catch (e) {
        throw this.badResponse(`image ${i} is not a readable image (${(e as Error).message})`);
      }
      media.push({ data: bytes, mimeType: mimeFor(size.type) ?? "application/octet-stream", width: size.width, height: size.height });
      call.onProgress((i + 1) / data.length);
    }
    const u = (res as { usage?: { input_tokens?: number; output_tokens?: number } }).usage;
    return {
      media,
      usage: {
        images: media.length,
        ...(typeof u?.input_tokens === "number" ? { inputTokens: u.input_tokens } : {}),
        ...(typeof u?.output_tokens === "number" ? { outputTokens: u.output_tokens } : {}),
      },
    };
  }

  /** Fetches an image the vendor answered by URL (signed, short-lived: no key is sent). */
  private async download(url: string, call: ProviderCall): Promise<Buffer> {
    try {
      const res = await fetch(url, { signal: call.signal });
      if (!res.ok) {
        await res.body?.cancel().catch(() => undefined);
        throw new ProviderError({ provider: this.id, kind: "bad_response", status: res.status, message: `${this.id}: fetching a generated image answered ${res.status}` });
      }
      return Buffer.from(await res.arrayBuffer());
    } catch (e) {
      throw this.fail(e, call.signal);
    }
  }

  // ── plumbing ──────────────────────────────────────────────────────────────

  /** One SDK client per key (the pool hands out a few keys; each client keeps its connections). */
  private client(apiKey: string | undefined): OpenAI {
    if (!apiKey && this.requiresKey) {
      throw new ProviderError({ provider: this.id, kind: "auth", message: `${this.id} needs an API key and none was given` });
    }
    const key = apiKey || NO_KEY;
    let client = this.clients.get(key);
    if (!client) {
      client = new OpenAI({
        apiKey: key,
        baseURL: this.settings.baseUrl,
        defaultHeaders: this.settings.headers,
        maxRetries: 0,
        // Never pick OpenAI account settings up from the environment for another vendor.
        organization: null,
        project: null,
        adminAPIKey: null,
        webhookSecret: null,
        // Failures are reported as ProviderErrors; the SDK would log raw stream bytes.
        logLevel: "off",
      });
      this.clients.set(key, client);
    }
    return client;
  }

  private requestOptions(call: ProviderCall): { signal: AbortSignal; timeout?: number } {
    const t = call.timeoutMs;
    // The SDK wants a positive integer.
    return Number.isFinite(t) && t > 0 ? { signal: call.signal, timeout: Math.max(1, Math.ceil(t)) } : { signal: call.signal };
  }

  private invalid(message: string): ProviderError {
    return new ProviderError({ provider: this.id, kind: "invalid_request", message });
  }

  private badResponse(message: string): ProviderError {
    return new ProviderError({ provider: this.id, kind: "bad_response", message: `${this.id} sent an unusable response: ${scrub(message)}` });
  }

  /** Any failure → ProviderError (shared mapping), plus the SDK's own timeout and mid-stream error events. */
  private fail(e: unknown, signal: AbortSignal, partial = false): ProviderError {
    if (e instanceof ProviderError) return e;
    if (!signal.aborted && e instanceof APIConnectionTimeoutError) {
      return new ProviderError({ provider: this.id, kind: "timeout", partial, message: `${this.id} did not answer within the timeout` });
    }
    // A `data: {"error": …}` event inside a 200 stream: the SDK raises an APIError without a status.
    if (!signal.aborted && e instanceof APIError && e.status === undefined && !(e instanceof APIConnectionError) && e.error) {
      const err = e.error as { code?: unknown };
      const code = typeof err.code === "number" ? err.code : Number(err.code);
      const message = messageOf({ error: e.error }) || "error event in the stream";
      if (Number.isInteger(code) && code >= 400 && code < 600) {
        const pe = errorFromStatus(this.id, code, message);
        return partial ? new ProviderError({ provider: this.id, kind: pe.kind, status: pe.status, retryAfterSeconds: pe.retryAfterSeconds, message: pe.message, partial }) : pe;
      }
      return new ProviderError({ provider: this.id, kind: "unavailable", partial, message: `${this.id} reported an error mid-stream: ${scrub(message)}` });
    }
    return toProviderError(this.id, e, signal, { partial });
  }
}

export function createOpenAICompatibleProvider(settings: AdapterSettings): GenerationProvider {
  return new OpenAICompatibleProvider(settings);
}
