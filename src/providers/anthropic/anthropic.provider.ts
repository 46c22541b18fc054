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
 *
 * The wire mappings are pure functions beside this file: request.ts (the Messages body),
 * stream.ts (events → text, tool calls, usage, stop_reason; error events).
 */
import Anthropic, { APIConnectionError, APIConnectionTimeoutError, APIError } from "@anthropic-ai/sdk";
import type { AdapterSettings } from "../adapter-settings";
import type { GenerationProvider, GenerationRequest, GenerationResult, ListedModel, ProviderCall, ProviderError, ProviderProbeCall } from "../contract";
import { AdapterBase } from "../shared/adapter-base";
import { invalidRequest } from "../shared/errors";
import { ClientsByKey, NO_KEY, requireKey } from "../shared/keys";
import { fromStainlessError } from "../shared/stainless-errors";
import { HEALTH_TIMEOUT_MS, sdkRequestOptions } from "../shared/timeouts";
import { AnthropicBatch } from "./batch";
import { messagesBody } from "./request";
import { MessageStream, readStreamError } from "./stream";
import { nodeHttpFetch } from "../shared/node-http-fetch";

const SDK_ERRORS = { APIError, APIConnectionError, APIConnectionTimeoutError };

export class AnthropicProvider extends AdapterBase implements GenerationProvider {
  private readonly clients: ClientsByKey<Anthropic>;
  /** Message Batches (batch.ts): `priority: BATCH` at the batch price. */
  readonly batch: AnthropicBatch;

  constructor(settings: AdapterSettings) {
    super(settings);
    this.clients = new ClientsByKey(
      (key) =>
        new Anthropic({
          // An explicit key: the SDK then reads no key, token or profile from the environment.
          apiKey: key,
          baseURL: settings.baseUrl,
          maxRetries: 0,
          // The documented header; `Authorization: null` drops the SDK's own Bearer copy of the key.
          defaultHeaders: { ...settings.headers, "x-api-key": key, Authorization: null },
          // Failures are reported as ProviderErrors; the SDK would log raw stream bytes.
          logLevel: "off",
          // node:http instead of the global fetch: about half the CPU per call (shared/node-http-fetch.ts).
          fetch: nodeHttpFetch,
        }),
    );
    this.batch = new AnthropicBatch({ id: this.id, models: this.models, client: (k) => this.client(k), fail: (e, signal) => this.fail(e, signal) });
  }

  async generate(req: GenerationRequest, call: ProviderCall): Promise<GenerationResult> {
    if (req.modality !== "TEXT") throw invalidRequest(this.id, `${this.id} (anthropic) generates TEXT only, not ${req.modality}`);
    const body = messagesBody(this.id, req, this.models);
    const client = this.client(call.apiKey);
    const acc = new MessageStream(call.onDelta);
    try {
      const stream = await client.messages.create(
        { ...body, stream: true } as unknown as Anthropic.MessageCreateParamsStreaming,
        sdkRequestOptions(call.signal, call.timeoutMs),
      );
      for await (const ev of stream) acc.push(ev as unknown as Record<string, unknown>);
    } catch (e) {
      throw this.fail(e, call.signal, acc.emittedAny);
    }
    // The SDK ends a stream quietly when its request is aborted: never take that for an answer.
    if (call.signal.aborted) throw this.fail(call.signal.reason ?? new Error("aborted"), call.signal, acc.emittedAny);
    return acc.result(this.id, req);
  }

  /** GET /v1/models, every page (the SDK follows `has_more`): all TEXT models. */
  async listModels(call: ProviderProbeCall): Promise<ListedModel[]> {
    const client = this.client(call.apiKey);
    const out: ListedModel[] = [];
    try {
      for await (const m of client.models.list({ limit: 1000 }, sdkRequestOptions(call.signal, HEALTH_TIMEOUT_MS * 3)))
        out.push({ name: m.id, modality: "TEXT", description: m.display_name || m.id });
    } catch (e) {
      throw this.fail(e, call.signal);
    }
    return out;
  }

  /** GET /v1/models (first page, one entry): cheap, and authenticated. */
  async healthCheck(call: ProviderProbeCall): Promise<void> {
    const client = this.client(call.apiKey);
    try {
      await client.models.list({ limit: 1 }, sdkRequestOptions(call.signal, HEALTH_TIMEOUT_MS));
    } catch (e) {
      throw this.fail(e, call.signal);
    }
  }

  private client(apiKey: string | undefined): Anthropic {
    return this.clients.get(requireKey(this.id, apiKey, this.requiresKey) || NO_KEY);
  }

  /** Any failure → ProviderError (shared mapping), plus the SDK's own timeout and `event: error` inside a stream. */
  private fail(e: unknown, signal: AbortSignal, partial = false): ProviderError {
    return fromStainlessError(this.id, SDK_ERRORS, readStreamError, e, signal, partial);
  }
}
