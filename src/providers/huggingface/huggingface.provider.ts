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
 *
 * The wire mappings are pure functions beside this file: request.ts (prompt, arguments,
 * URLs), stream.ts (events or one completion → our result), errors.ts (the SDK's errors).
 */
import { InferenceClient, type Options as HfOptions } from "@huggingface/inference";
import type { AdapterSettings } from "../adapter-settings";
import type { GenerationProvider, GenerationRequest, GenerationResult, MediaOutput, ProviderCall, ProviderProbeCall } from "../contract";
import { AdapterBase } from "../shared/adapter-base";
import { errorFromStatus, invalidRequest, messageOf, toProviderError } from "../shared/errors";
import { ClientsByKey, requireKey } from "../shared/keys";
import { imageMedia } from "../shared/media";
import { HEALTH_TIMEOUT_MS, withTimeout } from "../shared/timeouts";
import { huggingFaceError, type Seen } from "./errors";
import { imageParameters, imagePlan, modelUrl, textArgs, whoAmIUrl } from "./request";
import { TextStream } from "./stream";

export class HuggingFaceProvider extends AdapterBase implements GenerationProvider {
  /** Cheap; connections are pooled by fetch itself. */
  private readonly clients = new ClientsByKey((key) => new InferenceClient(key, { retry_on_error: false }));
  private readonly baseUrl: string;

  constructor(private readonly settings: AdapterSettings) {
    super(settings);
    this.baseUrl = settings.baseUrl.replace(/\/+$/, "");
  }

  async generate(req: GenerationRequest, call: ProviderCall): Promise<GenerationResult> {
    switch (req.modality) {
      case "TEXT":
        return this.text(req, call);
      case "IMAGE":
        return this.image(req, call);
      default:
        throw invalidRequest(this.id, `${this.id} (huggingface) generates TEXT and IMAGE, not ${req.modality}`);
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
    return whoAmIUrl(this.baseUrl);
  }

  /** `${baseUrl}/models/${model}`, each path segment of the model id encoded. */
  modelUrl(model: string): string {
    return modelUrl(this.baseUrl, model);
  }

  private async text(req: GenerationRequest, call: ProviderCall): Promise<GenerationResult> {
    const args = textArgs(this.id, req, this.models, this.baseUrl);
    const streamed = req.params?.stream !== false;
    const client = this.client(call.apiKey);
    const seen: Seen = {};
    const { signal, timedOut } = withTimeout(call.signal, call.timeoutMs);
    const options: HfOptions = { signal, retry_on_error: false, fetch: this.fetcher(seen, !streamed) };
    const acc = new TextStream(call.onDelta);
    try {
      if (streamed) {
        for await (const chunk of client.textGenerationStream(args as Parameters<InferenceClient["textGenerationStream"]>[0], options)) {
          acc.push(chunk as unknown as Record<string, unknown>);
        }
      } else {
        const out = await client.textGeneration(args as Parameters<InferenceClient["textGeneration"]>[0], options);
        const full = seen.copy ? ((await seen.copy.json().catch(() => undefined)) as Record<string, unknown> | undefined) : undefined;
        acc.whole(out?.generated_text, full);
      }
    } catch (e) {
      throw huggingFaceError(this.id, e, call.signal, timedOut, seen, acc.emittedAny);
    }
    if (call.signal.aborted || timedOut.aborted) throw huggingFaceError(this.id, signal.reason ?? new Error("aborted"), call.signal, timedOut, seen, acc.emittedAny);
    return acc.result(this.id, args.inputs);
  }

  private async image(req: GenerationRequest, call: ProviderCall): Promise<GenerationResult> {
    const plan = imagePlan(this.id, req);
    const client = this.client(call.apiKey);
    const { signal, timedOut } = withTimeout(call.signal, call.timeoutMs);

    const media: MediaOutput[] = [];
    for (let i = 0; i < plan.count; i++) {
      const seen: Seen = {};
      let bytes: Buffer;
      try {
        const blob = await client.textToImage(
          { endpointUrl: this.modelUrl(req.model), model: req.model, inputs: plan.inputs, parameters: imageParameters(req, plan, i) } as Parameters<InferenceClient["textToImage"]>[0],
          { signal, retry_on_error: false, fetch: this.fetcher(seen), outputType: "blob" },
        );
        bytes = Buffer.from(await blob.arrayBuffer());
      } catch (e) {
        throw huggingFaceError(this.id, e, call.signal, timedOut, seen);
      }
      media.push(imageMedia(this.id, bytes, i));
      call.onProgress((i + 1) / plan.count);
    }
    return { media, usage: { images: media.length } };
  }

  private key(apiKey: string | undefined): string {
    return requireKey(this.id, apiKey, this.requiresKey) ?? "";
  }

  private client(apiKey: string | undefined): InferenceClient {
    return this.clients.get(this.key(apiKey));
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
}
