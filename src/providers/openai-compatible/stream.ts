/** A streamed chat completion, chunk by chunk: text deltas, tool calls, finish_reason, usage. */
import type { GenerationRequest, GenerationResult } from "../contract";
import { incompleteStream, messageOf } from "../shared/errors";
import type { SdkApiError } from "../shared/stainless-errors";
import { inputText } from "../shared/text";
import { estimateTokens } from "../shared/tokens";

/** A streamed tool call being assembled from its deltas (OpenAI shape). */
interface ToolCallAcc {
  id: string;
  type: "function";
  function: { name: string; arguments: string };
}

/** The parts of a chat.completion.chunk the adapter reads. */
export interface ChatChunk {
  /** `cost`: OpenRouter's own charge for the call, in USD. */
  usage?: { prompt_tokens?: number; completion_tokens?: number; cost?: number } | null;
  choices?: {
    index?: number;
    delta?: { content?: string | null; tool_calls?: { index?: number; id?: string; function?: { name?: string; arguments?: string } }[] } | null;
    finish_reason?: string | null;
  }[];
}

export class ChatStream {
  text = "";
  emittedAny = false;
  finishReason: string | undefined;
  private usage: { prompt_tokens?: number; completion_tokens?: number; cost?: number } | undefined;
  private readonly tools: ToolCallAcc[] = [];

  constructor(private readonly onDelta: (delta: string) => void) {}

  push(chunk: ChatChunk): void {
    if (chunk.usage) this.usage = chunk.usage;
    for (const choice of chunk.choices ?? []) {
      if ((choice.index ?? 0) !== 0) continue;
      const delta = choice.delta;
      if (typeof delta?.content === "string" && delta.content.length > 0) {
        this.text += delta.content;
        this.emittedAny = true;
        this.onDelta(delta.content);
      }
      for (const tc of delta?.tool_calls ?? []) {
        const i = tc.index ?? this.tools.length;
        const acc = (this.tools[i] ??= { id: "", type: "function", function: { name: "", arguments: "" } });
        if (tc.id) acc.id = tc.id;
        // The name comes whole in the first delta; some servers repeat it, so it is set once.
        if (tc.function?.name && !acc.function.name) acc.function.name = tc.function.name;
        if (tc.function?.arguments) acc.function.arguments += tc.function.arguments;
      }
      if (choice.finish_reason) this.finishReason = choice.finish_reason;
    }
  }

  /** The answer, once the stream has ended; a stream without finish_reason is never one. */
  result(provider: string, req: GenerationRequest): GenerationResult {
    if (!this.finishReason) throw incompleteStream(provider, this.emittedAny, "finish_reason");
    const toolCalls = this.tools.filter(Boolean).map((t, i) => (t.id ? t : { ...t, id: `call_${i}` }));
    const text = this.text;
    return {
      text,
      ...(toolCalls.length ? { toolCalls } : {}),
      usage: {
        inputTokens: this.usage?.prompt_tokens ?? estimateTokens(inputText(req)),
        outputTokens: this.usage?.completion_tokens ?? (text ? estimateTokens(text) : toolCalls.length ? estimateTokens(JSON.stringify(toolCalls)) : 0),
        ...(typeof this.usage?.cost === "number" && this.usage.cost >= 0 ? { reportedCostMicros: Math.round(this.usage.cost * 1_000_000) } : {}),
      },
      finishReason: this.finishReason,
    };
  }
}

/** A `data: {"error": …}` event inside a 200 stream: its `code` is the HTTP status the same error would have. */
export function readStreamError(e: SdkApiError): { status?: number; message: string } {
  const err = e.error as { code?: unknown };
  const code = typeof err.code === "number" ? err.code : Number(err.code);
  const message = messageOf({ error: e.error }) || "error event in the stream";
  return { status: Number.isInteger(code) && code >= 400 && code < 600 ? code : undefined, message };
}
