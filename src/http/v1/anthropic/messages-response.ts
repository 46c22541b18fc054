/**
 * A finished text generation as an Anthropic Message object (the non-streaming answer of
 * POST /v1/messages, and the pieces the stream encoder sends). Pure.
 */
import type { StoredOutput } from "../../../db/entities/generation.entity";

/** The output fields a Message is built from (the stored output of a SUCCEEDED generation). */
export type MessageOutput = Pick<StoredOutput, "text" | "usage" | "finishReason" | "toolCalls"> | null | undefined;

export interface ToolUseBlock {
  type: "tool_use";
  id: string;
  name: string;
  input: unknown;
}
export type ContentBlock = { type: "text"; text: string } | ToolUseBlock;

export interface AnthropicMessage {
  id: string;
  type: "message";
  role: "assistant";
  model: string;
  content: ContentBlock[];
  stop_reason: string;
  stop_sequence: null;
  usage: { input_tokens: number; output_tokens: number };
}

/** Our finish reasons (OpenAI's vocabulary, which every adapter reports) in Anthropic's; anything else is end_turn. */
const STOP_REASON: Record<string, string> = {
  stop: "end_turn",
  length: "max_tokens",
  tool_calls: "tool_use",
  content_filter: "refusal",
};

/** The Message id of a generation: Anthropic's `msg_` prefix on our id (so the id leads back to the generation). */
export const messageId = (generationId: string): string => `msg_${generationId}`;

export function stopReason(out: MessageOutput): string {
  if (out?.toolCalls?.length) return "tool_use";
  return STOP_REASON[out?.finishReason ?? "stop"] ?? "end_turn";
}

/** OpenAI-shaped tool calls (what adapters return) as tool_use blocks; unparsable arguments become `{}`. */
export function toolUseBlocks(out: MessageOutput): ToolUseBlock[] {
  return (out?.toolCalls ?? []).map((c, i) => {
    const call = (c ?? {}) as { id?: unknown; function?: { name?: unknown; arguments?: unknown } };
    const args = call.function?.arguments;
    let input: unknown = {};
    if (typeof args === "string" && args) {
      try {
        input = JSON.parse(args);
      } catch {
        input = {};
      }
    } else if (args && typeof args === "object") input = args;
    return { type: "tool_use", id: typeof call.id === "string" && call.id ? call.id : `toolu_${i}`, name: String(call.function?.name ?? ""), input };
  });
}

export const usageOf = (out: MessageOutput): AnthropicMessage["usage"] => ({
  input_tokens: out?.usage?.inputTokens ?? 0,
  output_tokens: out?.usage?.outputTokens ?? 0,
});

/** The Message for generation `generationId`; `model` is the public model id that served it. */
export function toMessage(generationId: string, model: string, out: MessageOutput): AnthropicMessage {
  const text = out?.text ?? "";
  const tools = toolUseBlocks(out);
  // A text block unless the model only called tools (as Anthropic answers).
  const content: ContentBlock[] = [...(text || !tools.length ? [{ type: "text" as const, text }] : []), ...tools];
  return { id: messageId(generationId), type: "message", role: "assistant", model, content, stop_reason: stopReason(out), stop_sequence: null, usage: usageOf(out) };
}
