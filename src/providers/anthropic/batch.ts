/**
 * Anthropic's Message Batches through `@anthropic-ai/sdk`: messages.batches.create takes the
 * requests (custom_id + Messages params, no stream), retrieve tells `processing_status`
 * (in_progress → ended; canceling), and results streams the JSONL at `results_url`: one line
 * per request, `result.type` succeeded (a Message) | errored | canceled | expired.
 */
import type Anthropic from "@anthropic-ai/sdk";
import type { BatchApi, BatchItem, BatchLine, BatchStatus, GenerationRequest, GenerationResult, ModelInfo, ProviderProbeCall } from "../contract";
import { ProviderError } from "../contract";
import { errorFromStatus, messageOf } from "../shared/errors";
import { HEALTH_TIMEOUT_MS, sdkRequestOptions } from "../shared/timeouts";
import { messagesBody } from "./request";
import { MessageStream } from "./stream";

/** What the adapter lends the batch API: its clients (one per key), models and failure mapping. */
export interface AnthropicBatchHost {
  readonly id: string;
  readonly models: readonly ModelInfo[];
  client(apiKey: string | undefined): Anthropic;
  fail(e: unknown, signal: AbortSignal): Error;
}

/** Anthropic's error types as HTTP statuses (an errored line carries the type, not a status). */
const TYPE_STATUS: Record<string, number> = {
  invalid_request_error: 400, authentication_error: 401, billing_error: 402, permission_error: 403, not_found_error: 404,
  request_too_large: 413, rate_limit_error: 429, api_error: 500, timeout_error: 504, overloaded_error: 529,
};

/** A whole Message (not streamed) as our result: replayed through the stream accumulator. */
export function messageResult(provider: string, message: Record<string, unknown>, req: GenerationRequest): GenerationResult {
  const acc = new MessageStream(() => undefined);
  acc.push({ type: "message_start", message: { usage: message.usage } });
  const blocks = Array.isArray(message.content) ? (message.content as Record<string, unknown>[]) : [];
  blocks.forEach((block, index) => acc.push({ type: "content_block_start", index, content_block: block }));
  acc.push({ type: "message_delta", delta: { stop_reason: message.stop_reason }, usage: message.usage });
  acc.push({ type: "message_stop" });
  return acc.result(provider, req);
}

/** One results line as a BatchLine. */
export function readResultLine(provider: string, line: { custom_id?: string; result?: Record<string, unknown> }, req: GenerationRequest | undefined): BatchLine | undefined {
  const customId = line.custom_id;
  if (!customId || !req) return undefined;
  const r = line.result ?? {};
  if (r.type === "succeeded") return { customId, result: messageResult(provider, (r.message ?? {}) as Record<string, unknown>, req) };
  if (r.type === "errored") {
    const inner = (r.error as { error?: { type?: string } } | undefined)?.error;
    return { customId, error: errorFromStatus(provider, TYPE_STATUS[inner?.type ?? ""] ?? 500, messageOf(r.error)) };
  }
  const retryable = r.type === "expired";
  return { customId, error: new ProviderError({ provider, kind: "unavailable", retryable, message: `${provider}: the request was ${String(r.type ?? "not answered")} in its batch` }) };
}

export class AnthropicBatch implements BatchApi {
  constructor(private readonly host: AnthropicBatchHost) {}

  async submit(items: BatchItem[], call: ProviderProbeCall, _marker: string): Promise<{ batchId: string }> {
    const requests = items.map((it) => ({ custom_id: it.customId, params: messagesBody(this.host.id, it.request, this.host.models) }));
    try {
      const b = await this.host.client(call.apiKey).messages.batches.create(
        { requests } as unknown as Anthropic.Messages.BatchCreateParams,
        sdkRequestOptions(call.signal, HEALTH_TIMEOUT_MS * 2),
      );
      return { batchId: b.id };
    } catch (e) {
      throw this.host.fail(e, call.signal);
    }
  }

  /**
   * Message Batches keep no metadata: the candidates are the batches listed (newest first, paged)
   * back to `since` with as many requests as `items`. An ended one is ours only if its results
   * carry exactly our custom ids (generation ids: unique); one still processing cannot be told yet.
   */
  async findSubmitted(_marker: string, items: BatchItem[], since: Date, call: ProviderProbeCall): Promise<{ batchId: string; exact: boolean }[]> {
    const client = this.host.client(call.apiKey);
    const ours = new Set(items.map((i) => i.customId));
    const found: { batchId: string; exact: boolean }[] = [];
    try {
      for await (const b of client.messages.batches.list({ limit: 100 }, sdkRequestOptions(call.signal, HEALTH_TIMEOUT_MS * 2))) {
        if (new Date(b.created_at).getTime() < since.getTime()) break;
        const c = b.request_counts;
        if (c.processing + c.succeeded + c.errored + c.canceled + c.expired !== items.length) continue;
        if (b.processing_status !== "ended") {
          found.push({ batchId: b.id, exact: false });
          continue;
        }
        const ids: string[] = [];
        for await (const line of await client.messages.batches.results(b.id, undefined, sdkRequestOptions(call.signal, HEALTH_TIMEOUT_MS * 2))) ids.push(line.custom_id);
        if (ids.length === ours.size && ids.every((id) => ours.has(id))) found.push({ batchId: b.id, exact: true });
      }
    } catch (e) {
      throw this.host.fail(e, call.signal);
    }
    return found;
  }

  async check(batchId: string, call: ProviderProbeCall): Promise<BatchStatus> {
    try {
      const b = await this.host.client(call.apiKey).messages.batches.retrieve(batchId, undefined, sdkRequestOptions(call.signal, HEALTH_TIMEOUT_MS));
      return b.processing_status === "ended" ? { state: "ended", providerStatus: b.processing_status } : { state: "pending", providerStatus: b.processing_status };
    } catch (e) {
      throw this.host.fail(e, call.signal);
    }
  }

  async results(batchId: string, _refs: Record<string, string> | undefined, requests: ReadonlyMap<string, GenerationRequest>, call: ProviderProbeCall): Promise<BatchLine[]> {
    const out: BatchLine[] = [];
    try {
      const lines = await this.host.client(call.apiKey).messages.batches.results(batchId, undefined, sdkRequestOptions(call.signal, HEALTH_TIMEOUT_MS * 2));
      for await (const line of lines) {
        const parsed = readResultLine(this.host.id, line as unknown as { custom_id?: string; result?: Record<string, unknown> }, requests.get(line.custom_id));
        if (parsed) out.push(parsed);
      }
    } catch (e) {
      throw this.host.fail(e, call.signal);
    }
    return out;
  }
}
