/**
 * The `huggingface` adapter: Hugging Face Inference (the `hf-inference` provider behind
 * https://router.huggingface.co/hf-inference, or anything serving the same routes) through
 * the official `@huggingface/inference` SDK, for TEXT and IMAGE.
 *
 * Endpoint: every model is addressed as `${baseUrl}/models/${model}` (the classic Inference
 * API shape), handed to the SDK as `endpointUrl` — so the SDK never asks the Hub which
 * provider serves a model, and never leaves the configured base URL.
 * - TEXT: the SDK's text-generation task posts OpenAI-style completions to
 *   `${baseUrl}/models/${model}/v1/completions` ({ model, prompt, max_tokens, … }): what
 *   hf-inference and TGI serve there. The adapter streams (`textGenerationStream`, SSE) unless
 *   `params.stream === false`. Stream events are completion chunks (`choices[0].text`,
 *   `finish_reason`); TGI's native token events (`token.text`, final `generated_text` and
 *   `details`), which the SDK's types describe, are read too. A stream that ends without a
 *   finish_reason / generated_text is a partial failure, never an answer.
 *   Text generation takes one string, so messages become a plain transcript ("User: …",
 *   "Assistant: …", ending with "Assistant:"), images and tools are refused, and
 *   responseFormat JSON adds an instruction to answer with JSON only.
 * - IMAGE: text-to-image posts `{ inputs, parameters: { width, height, … } }` to
 *   `${baseUrl}/models/${model}` and gets the image bytes; one call per image (`count`), with
 *   `seed + i` when a seed is given; a `style` is appended to the prompt (", <style> style");
 *   other `params` (num_inference_steps, guidance_scale, negative_prompt …) go into
 *   `parameters`. Mime type and size come from the bytes (image-size).
 * - healthCheck: `GET /api/whoami-v2` with the key — the Hub's cheap "who is this token"
 *   call. For Hugging Face hosts it goes to https://huggingface.co; for any other base URL
 *   (a proxy, the test fake) to that host's origin.
 *
 * SDK quirks handled here:
 * - It retries a 503 immediately, forever, unless `retry_on_error: false` (always set here:
 *   retries belong to the caller, and a loading model answers 503 for a while).
 * - Its errors (InferenceClientProviderApiError) carry the status and body under
 *   `httpResponse` (the README says `response`) and no headers at all, so Retry-After would
 *   be lost: each call passes the SDK a `fetch` (its documented option) that keeps the last
 *   response's headers; it also adds the configured extra headers.
 * - It has no timeout: the call's timeout is added to the signal.
 */
import {
  InferenceClient,
  InferenceClientInputError,
  InferenceClientProviderApiError,
  InferenceClientProviderOutputError,
  type Options as HfOptions,
} from "@huggingface/inference";
import { imageSize } from "image-size";
import type { AdapterSettings } from "../adapter-settings";
import {
  ProviderError,
  type ContentPart,
  type GenerationProvider,
  type GenerationRequest,
  type GenerationResult,
  type MediaOutput,
  type ModelInfo,
  type ProviderCall,
  type ProviderProbeCall,
} from "../contract";
import { errorFromStatus, messageOf, scrub, toProviderError } from "../errors";

/** When neither the request nor the catalog says how long an answer may be. */
const DEFAULT_MAX_TOKENS = 1024;
const HEALTH_TIMEOUT_MS = 30_000;
/** `params` keys the adapter owns. */
const RESERVED_TEXT = new Set(["model", "prompt", "inputs", "stream", "max_new_tokens", "max_tokens"]);
const RESERVED_IMAGE = new Set(["model", "inputs", "width", "height"]);
/** responseFormat JSON: text generation has no JSON mode the adapter can rely on. */
export const JSON_INSTRUCTION = "Answer with a single valid JSON value only: no prose before or after it, no Markdown code fences.";
const MIME: Record<string, string> = {
  png: "image/png",
  jpg: "image/jpeg",
  webp: "image/webp",
  gif: "image/gif",
  avif: "image/avif",
  bmp: "image/bmp",
  tiff: "image/tiff",
};
/** TGI's finish reasons in the vocabulary the other adapters report. */
const FINISH: Record<string, string> = { eos_token: "stop", stop_sequence: "stop", length: "length", stop: "stop" };

type Body = Record<string, unknown>;

/** What the per-call fetch saw of the last response (the SDK's errors keep no headers). */
interface Seen {
  headers?: Headers;
  /** A copy of a successful response body (non-streamed text: usage and finish_reason). */
  copy?: Response;
}

/** Rough token estimate (≈ 4 characters a token, at least 1): streams report no usage. */
function estimateTokens(text: string): number {
  let chars = 0;
  for (const _ of text) chars++;
  return Math.max(1, Math.ceil(chars / 4));
}

function extras(params: Record<string, unknown> | undefined, reserved: Set<string>): Body {
  const out: Body = {};
  for (const [k, v] of Object.entries(params ?? {})) if (!reserved.has(k) && v !== undefined) out[k] = v;
  return out;
}

export class HuggingFaceProvider implements GenerationProvider {
  readonly id: string;
  readonly displayName: string;
  readonly simulated = false;
  readonly models: readonly ModelInfo[];
  readonly requiresKey: boolean;
  private readonly clients = new Map<string, InferenceClient>();
  private readonly baseUrl: string;

  constructor(private readonly settings: AdapterSettings) {
    this.id = settings.id;
    this.displayName = settings.displayName;
    this.models = settings.models;
    this.requiresKey = settings.requiresKey;
    this.baseUrl = settings.baseUrl.replace(/\/+$/, "");
  }

  async generate(req: GenerationRequest, call: ProviderCall): Promise<GenerationResult> {
    switch (req.modality) {
      case "TEXT":
        return this.text(req, call);
      case "IMAGE":
        return this.image(req, call);
      default:
        throw this.invalid(`${this.id} (huggingface) generates TEXT and IMAGE, not ${req.modality}`);
    }
  }

  async healthCheck(call: ProviderProbeCall): Promise<void> {
    const key = this.key(call.apiKey);
    const signal = AbortSignal.any([call.signal, AbortSignal.timeout(HEALTH_TIMEOUT_MS)]);
    try {
      const res = await fetch(this.whoAmIUrl(), {
        headers: { ...this.settings.headers, ...(key ? { Authorization: `Bearer ${key}` } : {}) },
        signal,
      });
      if (!res.ok) throw errorFromStatus(this.id, res.status, messageOf(await res.text().catch(() => "")), res.headers);
      await res.body?.cancel().catch(() => undefined);
    } catch (e) {
      throw toProviderError(this.id, e, call.signal);
    }
  }

  /** The Hub's whoami for Hugging Face hosts; the same path at any other host's origin. */
  whoAmIUrl(): string {
    const u = new URL(this.baseUrl);
    const hf = u.hostname === "huggingface.co" || u.hostname.endsWith(".huggingface.co");
    return hf ? "https://huggingface.co/api/whoami-v2" : `${u.origin}/api/whoami-v2`;
  }

  // ── TEXT ──────────────────────────────────────────────────────────────────

  /** One prompt string for text generation (see the file comment). */
  promptOf(req: GenerationRequest): string {
    const system: string[] = [];
    if (req.system) system.push(req.system);
    const turns: string[] = [];
    const textOf = (parts: ContentPart[]): string => {
      if (parts.some((p) => p.type !== "text")) throw this.invalid("text generation on Hugging Face takes text only (no image parts)");
      return parts.map((p) => (p.type === "text" ? p.text : "")).join("\n");
    };
    for (const m of req.messages ?? []) {
      const t = textOf(m.content);
      if (m.role === "system") system.push(t);
      else turns.push(`${m.role === "assistant" ? "Assistant" : m.role === "tool" ? "Tool" : "User"}: ${t}`);
    }
    if (req.text?.responseFormat === "JSON") system.push(JSON_INSTRUCTION);
    if (turns.length === 0 && system.length === 0) {
      if (!req.prompt) throw this.invalid("a text generation needs a prompt or messages");
      return req.prompt;
    }
    if (req.prompt) turns.push(`User: ${req.prompt}`);
    if (turns.length === 0) throw this.invalid("a text generation needs a prompt or messages");
    return `${system.length ? `${system.join("\n\n")}\n\n` : ""}${turns.join("\n")}\nAssistant:`;
  }

  private textArgs(req: GenerationRequest) {
    if (req.text?.tools?.length) throw this.invalid("text generation on Hugging Face does not support tools");
    const inputs = this.promptOf(req);
    const t = req.text ?? {};
    const model = this.models.find((m) => m.name === req.model);
    const parameters: Body = { ...extras(req.params, RESERVED_TEXT) };
    // The SDK sends max_new_tokens as the completions' max_tokens (whose default can be as low as 16).
    parameters.max_new_tokens = t.maxTokens ?? model?.maxOutputTokens ?? DEFAULT_MAX_TOKENS;
    if (t.temperature !== undefined) parameters.temperature = t.temperature;
    if (req.seed !== undefined) parameters.seed = req.seed;
    return { endpointUrl: this.modelUrl(req.model), model: req.model, inputs, parameters };
  }

  private async text(req: GenerationRequest, call: ProviderCall): Promise<GenerationResult> {
    const args = this.textArgs(req);
    const prompt = args.inputs;
    const streamed = req.params?.stream !== false;
    const client = this.client(call.apiKey);
    const seen: Seen = {};
    const { signal, timedOut } = this.signal(call);
    const options: HfOptions = { signal, retry_on_error: false, fetch: this.fetcher(seen, !streamed) };

    let text = "";
    let emittedAny = false;
    let finish: string | undefined;
    let usage: { prompt_tokens?: unknown; completion_tokens?: unknown } | undefined;
    let generatedTokens: number | undefined;
    try {
      if (streamed) {
        for await (const raw of client.textGenerationStream(args as Parameters<InferenceClient["textGenerationStream"]>[0], options)) {
          const chunk = raw as unknown as Body;
          let piece = "";
          if (Array.isArray(chunk.choices)) {
            // OpenAI completion chunk (what /v1/completions streams).
            const choice = (chunk.choices as Body[]).find((c) => (c.index ?? 0) === 0);
            if (typeof choice?.text === "string") piece = choice.text;
            if (typeof choice?.finish_reason === "string" && choice.finish_reason) finish = choice.finish_reason;
            if (chunk.usage && typeof chunk.usage === "object") usage = chunk.usage as typeof usage;
          } else if (chunk.token && typeof chunk.token === "object") {
            // TGI token event; the last one carries generated_text and details.
            const token = chunk.token as Body;
            if (!token.special && typeof token.text === "string") piece = token.text;
            if (typeof chunk.generated_text === "string") {
              const details = (chunk.details ?? {}) as Body;
              finish = typeof details.finish_reason === "string" ? details.finish_reason : "stop";
              if (typeof details.generated_tokens === "number") generatedTokens = details.generated_tokens;
            }
          } else {
            throw new SyntaxError(`unexpected stream event ${scrub(JSON.stringify(chunk)).slice(0, 120)}`);
          }
          if (piece) {
            text += piece;
            emittedAny = true;
            call.onDelta(piece);
          }
        }
      } else {
        const out = await client.textGeneration(args as Parameters<InferenceClient["textGeneration"]>[0], options);
        text = typeof out?.generated_text === "string" ? out.generated_text : "";
        const full = seen.copy ? ((await seen.copy.json().catch(() => undefined)) as Body | undefined) : undefined;
        const choice = Array.isArray(full?.choices) ? (full.choices[0] as Body | undefined) : undefined;
        finish = typeof choice?.finish_reason === "string" ? choice.finish_reason : "stop";
        if (full?.usage && typeof full.usage === "object") usage = full.usage as typeof usage;
        if (text) {
          emittedAny = true;
          call.onDelta(text);
        }
      }
    } catch (e) {
      throw this.fail(e, call.signal, timedOut, seen, emittedAny);
    }
    if (call.signal.aborted || timedOut.aborted) throw this.fail(signal.reason ?? new Error("aborted"), call.signal, timedOut, seen, emittedAny);
    if (!finish) {
      throw new ProviderError({
        provider: this.id,
        kind: "bad_response",
        partial: emittedAny,
        message: emittedAny ? `${this.id}'s stream ended mid-answer (no finish_reason)` : `${this.id}'s stream ended without an answer`,
      });
    }
    const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : undefined);
    return {
      text,
      usage: {
        inputTokens: num(usage?.prompt_tokens) ?? estimateTokens(prompt),
        outputTokens: num(usage?.completion_tokens) ?? generatedTokens ?? (text ? estimateTokens(text) : 0),
      },
      finishReason: FINISH[finish] ?? finish,
    };
  }

  // ── IMAGE ─────────────────────────────────────────────────────────────────

  private async image(req: GenerationRequest, call: ProviderCall): Promise<GenerationResult> {
    if (!req.prompt) throw this.invalid("an image generation needs a prompt");
    const opts = req.image ?? { width: 1024, height: 1024, count: 1 };
    const count = Math.max(1, Math.floor(opts.count || 1));
    const inputs = opts.style ? `${req.prompt}, ${opts.style} style` : req.prompt;
    const client = this.client(call.apiKey);
    const { signal, timedOut } = this.signal(call);

    const media: MediaOutput[] = [];
    for (let i = 0; i < count; i++) {
      const seen: Seen = {};
      const parameters: Body = { ...extras(req.params, RESERVED_IMAGE), width: opts.width, height: opts.height };
      if (req.seed !== undefined) parameters.seed = req.seed + i;
      let bytes: Buffer;
      try {
        const blob = await client.textToImage(
          { endpointUrl: this.modelUrl(req.model), model: req.model, inputs, parameters } as Parameters<InferenceClient["textToImage"]>[0],
          { signal, retry_on_error: false, fetch: this.fetcher(seen), outputType: "blob" },
        );
        bytes = Buffer.from(await blob.arrayBuffer());
      } catch (e) {
        throw this.fail(e, call.signal, timedOut, seen);
      }
      let size: { width: number; height: number; type?: string };
      try {
        size = imageSize(bytes);
      } catch (e) {
        throw this.badResponse(`image ${i} is not a readable image (${(e as Error).message})`);
      }
      media.push({ data: bytes, mimeType: (size.type && MIME[size.type]) || "application/octet-stream", width: size.width, height: size.height });
      call.onProgress((i + 1) / count);
    }
    return { media, usage: { images: media.length } };
  }

  // ── plumbing ──────────────────────────────────────────────────────────────

  /** `${baseUrl}/models/${model}`, each path segment of the model id encoded. */
  modelUrl(model: string): string {
    return `${this.baseUrl}/models/${model.split("/").map(encodeURIComponent).join("/")}`;
  }

  private key(apiKey: string | undefined): string {
    if (!apiKey && this.requiresKey) {
      throw new ProviderError({ provider: this.id, kind: "auth", message: `${this.id} needs an API key and none was given` });
    }
    return apiKey ?? "";
  }

  /** One SDK client per key (cheap; connections are pooled by fetch itself). */
  private client(apiKey: string | undefined): InferenceClient {
    const key = this.key(apiKey);
    let client = this.clients.get(key);
    if (!client) {
      client = new InferenceClient(key, { retry_on_error: false });
      this.clients.set(key, client);
    }
    return client;
  }

  /** The call's signal plus its per-attempt timeout (the SDK has none of its own). */
  private signal(call: ProviderCall): { signal: AbortSignal; timedOut: AbortSignal } {
    const t = call.timeoutMs;
    const timedOut = Number.isFinite(t) && t > 0 ? AbortSignal.timeout(Math.ceil(t)) : new AbortController().signal;
    return { signal: AbortSignal.any([call.signal, timedOut]), timedOut };
  }

  /**
   * The `fetch` handed to the SDK: the configured extra headers on every request, and the
   * response headers kept for Retry-After (the SDK's errors drop them).
   */
  private fetcher(seen: Seen, keepCopy = false): typeof fetch {
    const extra = this.settings.headers;
    return async (input, init) => {
      const headers = extra ? { ...extra, ...(init?.headers as Record<string, string> | undefined) } : init?.headers;
      const res = await fetch(input, { ...init, headers });
      seen.headers = res.headers;
      if (keepCopy && res.ok) seen.copy = res.clone();
      return res;
    };
  }

  private invalid(message: string): ProviderError {
    return new ProviderError({ provider: this.id, kind: "invalid_request", message });
  }

  private badResponse(message: string, partial = false): ProviderError {
    return new ProviderError({ provider: this.id, kind: "bad_response", partial, message: `${this.id} sent an unusable response: ${scrub(message)}` });
  }

  private fail(e: unknown, signal: AbortSignal, timedOut: AbortSignal, seen: Seen, partial = false): ProviderError {
    if (e instanceof ProviderError) return e;
    if (!signal.aborted && timedOut.aborted) {
      return new ProviderError({ provider: this.id, kind: "timeout", partial, message: `${this.id} did not answer within the timeout` });
    }
    if (!signal.aborted && e instanceof InferenceClientProviderApiError) {
      const status = e.httpResponse?.status;
      const body = e.httpResponse?.body;
      if (typeof status === "number" && status >= 400) {
        const pe = errorFromStatus(this.id, status, messageOf(body) || e.message, seen.headers);
        // "Model … is currently loading" comes with the expected wait in seconds.
        const estimated = body && typeof body === "object" ? (body as Body).estimated_time : undefined;
        const retryAfterSeconds =
          pe.retryAfterSeconds ?? (status === 503 && typeof estimated === "number" && estimated > 0 ? Math.ceil(estimated) : undefined);
        return new ProviderError({ provider: this.id, kind: pe.kind, status, message: pe.message, retryAfterSeconds, partial });
      }
      // A 200 that is not an event stream, or an `{"error": …}` event inside one.
      if (/event stream content type/i.test(e.message)) return this.badResponse(e.message, partial);
      const b = (body && typeof body === "object" ? body : {}) as Body;
      const kind = b.error_type === "validation" ? "invalid_request" : "unavailable";
      return new ProviderError({ provider: this.id, kind, partial, message: `${this.id} reported an error mid-stream: ${scrub(messageOf(b) || e.message)}` });
    }
    if (!signal.aborted && e instanceof InferenceClientProviderOutputError) return this.badResponse(e.message, partial);
    if (!signal.aborted && e instanceof InferenceClientInputError) return this.invalid(scrub(e.message));
    return toProviderError(this.id, e, signal, { partial });
  }
}

export function createHuggingFaceProvider(settings: AdapterSettings): GenerationProvider {
  return new HuggingFaceProvider(settings);
}
