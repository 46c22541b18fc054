/** A streamed Messages API answer, event by event: text deltas, tool_use blocks, stop_reason, usage. */
import type { GenerationRequest, GenerationResult } from "../contract";
import { incompleteStream, messageOf } from "../shared/errors";
import type { SdkApiError } from "../shared/stainless-errors";
import { inputText } from "../shared/text";
import { estimateTokens } from "../shared/tokens";

type Body = Record<string, unknown>;
type Block = Record<string, unknown>;

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

/** A tool_use block being assembled from its `input_json_delta`s. */
interface ToolAcc {
  id: string;
  name: string;
  json: string;
  input: unknown;
}

export class MessageStream {
  text = "";
  emittedAny = false;
  private stopped = false;
  private stopReason: string | undefined;
  private inputTokens: number | undefined;
  private outputTokens: number | undefined;
  private readonly tools = new Map<number, ToolAcc>();

  constructor(private readonly onDelta: (delta: string) => void) {}

  private emit(text: string): void {
    this.text += text;
    this.emittedAny = true;
    this.onDelta(text);
  }

  push(ev: Body): void {
    switch (ev.type) {
      case "message_start": {
        const usage = (ev.message as Body | undefined)?.usage as Body | undefined;
        if (typeof usage?.input_tokens === "number") this.inputTokens = usage.input_tokens;
        if (typeof usage?.output_tokens === "number") this.outputTokens = usage.output_tokens;
        break;
      }
      case "content_block_start": {
        const block = ev.content_block as Block | undefined;
        const index = typeof ev.index === "number" ? ev.index : this.tools.size;
        if (block?.type === "tool_use") {
          this.tools.set(index, { id: String(block.id ?? ""), name: String(block.name ?? ""), json: "", input: block.input });
        } else if (block?.type === "text" && typeof block.text === "string" && block.text.length > 0) {
          this.emit(block.text);
        }
        break;
      }
      case "content_block_delta": {
        const delta = ev.delta as Block | undefined;
        if (delta?.type === "text_delta" && typeof delta.text === "string" && delta.text.length > 0) {
          this.emit(delta.text);
        } else if (delta?.type === "input_json_delta" && typeof delta.partial_json === "string") {
          const acc = this.tools.get(typeof ev.index === "number" ? ev.index : -1);
          if (acc) acc.json += delta.partial_json;
        }
        // thinking_delta, signature_delta, citations_delta: not part of the answer text.
        break;
      }
      case "message_delta": {
        const d = ev.delta as Body | undefined;
        if (typeof d?.stop_reason === "string") this.stopReason = d.stop_reason;
        const usage = ev.usage as Body | undefined;
        // Cumulative counts: the last message_delta has the totals.
        if (typeof usage?.output_tokens === "number") this.outputTokens = usage.output_tokens;
        if (typeof usage?.input_tokens === "number") this.inputTokens = usage.input_tokens;
        break;
      }
      case "message_stop":
        this.stopped = true;
        break;
      default:
        break; // ping, content_block_stop, and event types newer than this adapter
    }
  }

  /** The answer, once the stream has ended; a stream without message_stop is never one. */
  result(provider: string, req: GenerationRequest): GenerationResult {
    if (!this.stopped) throw incompleteStream(provider, this.emittedAny, "message_stop");
    const toolCalls = [...this.tools.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([i, t]) => ({
        id: t.id || `toolu_${i}`,
        type: "function" as const,
        function: { name: t.name, arguments: t.json || JSON.stringify(t.input ?? {}) },
      }));
    const text = this.text;
    return {
      text,
      ...(toolCalls.length ? { toolCalls } : {}),
      usage: {
        inputTokens: this.inputTokens ?? estimateTokens(inputText(req)),
        outputTokens: this.outputTokens ?? (text ? estimateTokens(text) : 0),
      },
      ...(this.stopReason ? { finishReason: FINISH[this.stopReason] ?? this.stopReason } : {}),
    };
  }
}

/** `event: error` in a 200 stream (overloaded_error mid-answer …): its type names the HTTP status. */
export function readStreamError(e: SdkApiError): { status?: number; message: string } {
  const type = typeof e.type === "string" ? e.type : String((e.error as { error?: { type?: unknown } })?.error?.type ?? "");
  const message = messageOf(e.error) || type || "error event in the stream";
  return { status: ERROR_TYPE_STATUS[type], message };
}
