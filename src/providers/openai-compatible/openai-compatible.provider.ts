/**
 * The `openai-compatible` adapter: one implementation, configured per vendor (OpenAI,
 * OpenRouter, Groq, Together, LM Studio, vLLM, Ollama's /v1 …) through {@link AdapterSettings}.
 * It speaks OpenAI's documented wire format through the official `openai` SDK:
 * streamed chat completions (TEXT), embeddings (EMBEDDING, micro-batched through
 * {@link OpenAICompatibleProvider.embedBatch}) and image generations (IMAGE).
 *
 * Retries, breakers, key pools and timeouts live outside the adapter: the SDK runs with
 * `maxRetries: 0`, gets the caller's signal and timeout on every request, and every failure
 * leaves as a {@link ProviderError} (src/providers/shared/).
 * The wire mappings are pure functions beside this file: request.ts (bodies), stream.ts
 * (chunks → text, tool calls, usage), response.ts (embeddings, images).
 */
import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError } from "openai";
import type { AdapterSettings } from "../adapter-settings";
import {
  ProviderError,
  type GenerationProvider,
  type GenerationRequest,
  type GenerationResult,
  type MediaOutput,
  type ProviderCall,
  type ListedModel,
  type ProviderProbeCall,
  type ModerationRequest,
  type ModerationVerdict,
} from "../contract";
import { AdapterBase } from "../shared/adapter-base";
import { invalidRequest } from "../shared/errors";
import { ClientsByKey, NO_KEY, requireKey } from "../shared/keys";
import { imageMedia } from "../shared/media";
import { fromStainlessError } from "../shared/stainless-errors";
import { HEALTH_TIMEOUT_MS, sdkRequestOptions } from "../shared/timeouts";
import { OpenAIBatch } from "./batch";
import { listedModels } from "./models";
import { moderationVerdicts } from "./moderation";
import { chatBody, embeddingBody, embeddingInputs, imageBody, maxTokensFieldFor, type MaxTokensField } from "./request";
import { embeddingResults, imageData, imageItem, imageUsage } from "./response";
import { ChatStream, readStreamError } from "./stream";
import { nodeHttpFetch } from "../shared/node-http-fetch";

const SDK_ERRORS = { APIError, APIConnectionError, APIConnectionTimeoutError };

export class OpenAICompatibleProvider extends AdapterBase implements GenerationProvider {
  private readonly clients: ClientsByKey<OpenAI>;
  private readonly maxTokensField: MaxTokensField;
  /** OpenAI's Batch API (batch.ts), on vendors that have it (AdapterSettings.batchApi). */
  readonly batch?: OpenAIBatch;

  constructor(settings: AdapterSettings) {
    super(settings);
    this.maxTokensField = maxTokensFieldFor(settings.baseUrl);
    this.clients = new ClientsByKey(
      (key) =>
        new OpenAI({
          apiKey: key,
          baseURL: settings.baseUrl,
          defaultHeaders: settings.headers,
          maxRetries: 0,
          // Never pick OpenAI account settings up from the environment for another vendor.
          organization: null,
          project: null,
          adminAPIKey: null,
          webhookSecret: null,
          // Failures are reported as ProviderErrors; the SDK would log raw stream bytes.
          logLevel: "off",
          // node:http instead of the global fetch: about half the CPU per call (shared/node-http-fetch.ts).
          fetch: nodeHttpFetch,
        }),
    );
    if (settings.batchApi)
      this.batch = new OpenAIBatch({ id: this.id, maxTokensField: this.maxTokensField, client: (k) => this.client(k), fail: (e, signal) => this.fail(e, signal) });
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
        throw invalidRequest(this.id, `${this.id} (openai-compatible) does not generate ${req.modality}`);
    }
  }

  async embedBatch(reqs: GenerationRequest[], call: ProviderCall): Promise<GenerationResult[]> {
    if (reqs.length === 0) return [];
    const bad = reqs.find((r) => r.modality !== "EMBEDDING");
    if (bad) throw invalidRequest(this.id, `embedBatch got a ${bad.modality} request`);
    return this.embed(reqs, call);
  }

  /** GET /models (every page; OpenRouter's entries carry prices and limits). */
  async listModels(call: ProviderProbeCall): Promise<ListedModel[]> {
    const client = this.client(call.apiKey);
    try {
      const body = await client.get("/models", { signal: call.signal, timeout: HEALTH_TIMEOUT_MS * 3 });
      return listedModels(body);
    } catch (e) {
      throw this.fail(e, call.signal);
    }
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

  /** POST /moderations (MODERATION_PROVIDER): every input in one call. */
  async moderate(req: ModerationRequest, call: ProviderProbeCall & { timeoutMs: number }): Promise<ModerationVerdict[]> {
    if (!req.inputs.length) return [];
    const client = this.client(call.apiKey);
    try {
      const res = await client.moderations.create({ input: req.inputs, ...(req.model ? { model: req.model } : {}) }, sdkRequestOptions(call.signal, call.timeoutMs));
      return moderationVerdicts(this.id, res, req.inputs.length);
    } catch (e) {
      throw e instanceof ProviderError ? e : this.fail(e, call.signal);
    }
  }

  private async chat(req: GenerationRequest, call: ProviderCall): Promise<GenerationResult> {
    const body = chatBody(this.id, req, this.maxTokensField);
    const client = this.client(call.apiKey);
    const acc = new ChatStream(call.onDelta);
    try {
      const stream = await client.chat.completions.create(
        body as unknown as OpenAI.Chat.ChatCompletionCreateParamsStreaming,
        sdkRequestOptions(call.signal, call.timeoutMs),
      );
      for await (const chunk of stream) acc.push(chunk);
    } catch (e) {
      throw this.fail(e, call.signal, acc.emittedAny);
    }
    // The SDK ends a stream quietly when its request is aborted: never take that for an answer.
    if (call.signal.aborted) throw this.fail(call.signal.reason ?? new Error("aborted"), call.signal, acc.emittedAny);
    return acc.result(this.id, req);
  }

  private async embed(reqs: GenerationRequest[], call: ProviderCall): Promise<GenerationResult[]> {
    const inputs = embeddingInputs(this.id, reqs);
    const client = this.client(call.apiKey);
    let res: OpenAI.CreateEmbeddingResponse;
    try {
      res = await client.embeddings.create(embeddingBody(reqs, inputs) as unknown as OpenAI.EmbeddingCreateParams, sdkRequestOptions(call.signal, call.timeoutMs));
    } catch (e) {
      throw this.fail(e, call.signal);
    }
    return embeddingResults(this.id, res, inputs);
  }

  private async image(req: GenerationRequest, call: ProviderCall): Promise<GenerationResult> {
    const body = imageBody(this.id, req);
    const client = this.client(call.apiKey);
    let res: OpenAI.ImagesResponse;
    try {
      res = await client.images.generate(body as unknown as OpenAI.ImageGenerateParamsNonStreaming, sdkRequestOptions(call.signal, call.timeoutMs));
    } catch (e) {
      throw this.fail(e, call.signal);
    }
    const data = imageData(this.id, res);
    const media: MediaOutput[] = [];
    for (const [i, raw] of data.entries()) {
      const item = imageItem(this.id, raw, i);
      const bytes = "b64" in item ? Buffer.from(item.b64, "base64") : await this.download(item.url, call);
      media.push(imageMedia(this.id, bytes, i));
      call.onProgress((i + 1) / data.length);
    }
    return { media, usage: imageUsage(res, media.length) };
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

  private client(apiKey: string | undefined): OpenAI {
    return this.clients.get(requireKey(this.id, apiKey, this.requiresKey) || NO_KEY);
  }

  /** Any failure → ProviderError (shared mapping), plus the SDK's own timeout and mid-stream error events. */
  private fail(e: unknown, signal: AbortSignal, partial = false): ProviderError {
    return fromStainlessError(this.id, SDK_ERRORS, readStreamError, e, signal, partial);
  }
}
