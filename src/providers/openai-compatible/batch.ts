/**
 * OpenAI's Batch API through the `openai` SDK: the requests go up as one JSONL file
 * (files.create, purpose "batch"), batches.create runs them against /v1/chat/completions
 * within 24 h, batches.retrieve tells the status (validating → in_progress → finalizing →
 * completed; failed, expired, cancelled), and the output and error files (JSONL, one line per
 * request, matched by custom_id, in any order) hold the answers.
 */
import OpenAI, { toFile } from "openai";
import type { BatchApi, BatchItem, BatchLine, BatchStatus, GenerationRequest, ProviderProbeCall } from "../contract";
import { errorFromStatus, messageOf, unusableResponse } from "../shared/errors";
import { HEALTH_TIMEOUT_MS, sdkRequestOptions } from "../shared/timeouts";
import { chatBody, type Body, type MaxTokensField } from "./request";
import { ChatStream, type ChatChunk } from "./stream";

/** What the adapter lends the batch API: its clients (one per key) and its failure mapping. */
export interface OpenAIBatchHost {
  readonly id: string;
  readonly maxTokensField: MaxTokensField;
  client(apiKey: string | undefined): OpenAI;
  fail(e: unknown, signal: AbortSignal): Error;
}

export const BATCH_ENDPOINT = "/v1/chat/completions";
/** The metadata key of our own batch id on the provider's batch (found again after a crash). */
export const MARKER_KEY = "switchboard_batch";

/** One input line: a non-streamed chat completion body. */
export function batchLine(provider: string, item: BatchItem, maxTokensField: MaxTokensField): Body {
  const body = chatBody(provider, item.request, maxTokensField);
  delete body.stream;
  delete body.stream_options;
  return { custom_id: item.customId, method: "POST", url: BATCH_ENDPOINT, body };
}

/** A chat.completion (non-streamed) as our result: fed through the stream accumulator as one chunk. */
export function completionResult(provider: string, completion: unknown, req: GenerationRequest): ReturnType<ChatStream["result"]> {
  const c = completion as { choices?: { index?: number; message?: { content?: string | null; tool_calls?: { id?: string; function?: { name?: string; arguments?: string } }[] }; finish_reason?: string | null }[]; usage?: ChatChunk["usage"] };
  const acc = new ChatStream(() => undefined);
  const choice = c?.choices?.find((x) => (x.index ?? 0) === 0);
  if (!choice) throw unusableResponse(provider, "a batch answer has no choices");
  acc.push({
    choices: [{
      index: 0,
      delta: {
        ...(typeof choice.message?.content === "string" ? { content: choice.message.content } : {}),
        ...(choice.message?.tool_calls?.length ? { tool_calls: choice.message.tool_calls.map((t, i) => ({ index: i, id: t.id, function: t.function })) } : {}),
      },
      finish_reason: choice.finish_reason ?? null,
    }],
    usage: c.usage,
  } as ChatChunk);
  return acc.result(provider, req);
}

/** One output or error file line as a BatchLine; `req` of its custom id (for token estimates). */
export function readOutputLine(provider: string, raw: Record<string, unknown>, req: GenerationRequest | undefined): BatchLine | undefined {
  const customId = typeof raw.custom_id === "string" ? raw.custom_id : undefined;
  if (!customId || !req) return undefined;
  const response = raw.response as { status_code?: number; body?: unknown } | null | undefined;
  const error = raw.error as { code?: string; message?: string } | null | undefined;
  if (response && response.status_code === 200) {
    try {
      return { customId, result: completionResult(provider, response.body, req) };
    } catch (e) {
      return { customId, error: e as never };
    }
  }
  const status = response?.status_code ?? 400;
  const message = response ? messageOf(response.body) : `${error?.code ?? "error"}: ${error?.message ?? "the request failed in the batch"}`;
  return { customId, error: errorFromStatus(provider, status, message) };
}

export class OpenAIBatch implements BatchApi {
  constructor(private readonly host: OpenAIBatchHost) {}

  async submit(items: BatchItem[], call: ProviderProbeCall, marker: string): Promise<{ batchId: string; state?: Record<string, string> }> {
    const { host } = this;
    const jsonl = items.map((it) => JSON.stringify(batchLine(host.id, it, host.maxTokensField))).join("\n") + "\n";
    const client = host.client(call.apiKey);
    const opts = sdkRequestOptions(call.signal, HEALTH_TIMEOUT_MS * 2);
    try {
      const file = await client.files.create({ file: await toFile(Buffer.from(jsonl, "utf8"), "switchboard-batch.jsonl", { type: "application/jsonl" }), purpose: "batch" }, opts);
      const batch = await client.batches.create({ input_file_id: file.id, endpoint: BATCH_ENDPOINT, completion_window: "24h", metadata: { source: "switchboard", [MARKER_KEY]: marker } }, opts);
      return { batchId: batch.id, state: { inputFileId: file.id } };
    } catch (e) {
      throw host.fail(e, call.signal);
    }
  }

  /** batches.list (newest first, paged) back to `since`: the batches whose metadata carries our marker. */
  async findSubmitted(marker: string, _items: BatchItem[], since: Date, call: ProviderProbeCall): Promise<{ batchId: string; exact: boolean; state?: Record<string, string> }[]> {
    const found: { batchId: string; exact: boolean; state?: Record<string, string> }[] = [];
    const sinceS = Math.floor(since.getTime() / 1000);
    try {
      for await (const b of this.host.client(call.apiKey).batches.list({ limit: 100 }, sdkRequestOptions(call.signal, HEALTH_TIMEOUT_MS * 2))) {
        if (b.created_at < sinceS) break;
        if ((b.metadata as Record<string, string> | null)?.[MARKER_KEY] === marker) found.push({ batchId: b.id, exact: true, state: { inputFileId: b.input_file_id } });
      }
    } catch (e) {
      throw this.host.fail(e, call.signal);
    }
    return found;
  }

  async check(batchId: string, call: ProviderProbeCall): Promise<BatchStatus> {
    let b: OpenAI.Batch;
    try {
      b = await this.host.client(call.apiKey).batches.retrieve(batchId, sdkRequestOptions(call.signal, HEALTH_TIMEOUT_MS));
    } catch (e) {
      throw this.host.fail(e, call.signal);
    }
    const refs: Record<string, string> = {};
    if (b.output_file_id) refs.output = b.output_file_id;
    if (b.error_file_id) refs.error = b.error_file_id;
    switch (b.status) {
      // An expired batch still has the output of what finished (the rest is in the error file).
      case "completed": case "expired": case "cancelled":
        return { state: "ended", providerStatus: b.status, resultRefs: refs };
      case "failed":
        return { state: "failed", providerStatus: b.status, message: b.errors?.data?.map((x) => x.message).join("; ") || "the batch failed validation" };
      default:
        return { state: "pending", providerStatus: b.status };
    }
  }

  async results(_batchId: string, refs: Record<string, string> | undefined, requests: ReadonlyMap<string, GenerationRequest>, call: ProviderProbeCall): Promise<BatchLine[]> {
    const out: BatchLine[] = [];
    for (const fileId of [refs?.output, refs?.error]) {
      if (!fileId) continue;
      let text: string;
      try {
        text = await (await this.host.client(call.apiKey).files.content(fileId, sdkRequestOptions(call.signal, HEALTH_TIMEOUT_MS * 2))).text();
      } catch (e) {
        throw this.host.fail(e, call.signal);
      }
      for (const line of text.split("\n")) {
        if (!line.trim()) continue;
        let raw: Record<string, unknown>;
        try {
          raw = JSON.parse(line) as Record<string, unknown>;
        } catch {
          continue; // a broken line fails only its own request (never answered: the caller fails it)
        }
        const parsed = readOutputLine(this.host.id, raw, requests.get(typeof raw.custom_id === "string" ? raw.custom_id : ""));
        if (parsed) out.push(parsed);
      }
    }
    return out;
  }
}
