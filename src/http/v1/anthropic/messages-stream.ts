/**
 * A generation's stream as Anthropic's Messages SSE events, in the order Anthropic sends them:
 * message_start, content_block_start (text), ping, content_block_delta (text_delta)…,
 * content_block_stop, then one start/input_json_delta/stop per tool_use block, message_delta
 * (stop_reason, usage), message_stop. A failure after the head is an `error` event (Anthropic's
 * shape), never a message_stop. Pure: each method returns the frames to write.
 */
import { messageId, stopReason, toolUseBlocks, usageOf, type MessageOutput } from "./messages-response";

/** One SSE frame with Anthropic's `event:` name (the SDK dispatches on it). */
export const sseEvent = (event: string, data: unknown): string => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

export class MessagesStreamEncoder {
  private index = 0;

  constructor(private readonly generationId: string, private readonly model: string) {}

  /** The head: the empty message, the text block's start and a ping. */
  start(): string {
    const message = {
      id: messageId(this.generationId), type: "message", role: "assistant", model: this.model, content: [],
      stop_reason: null, stop_sequence: null, usage: { input_tokens: 0, output_tokens: 0 },
    };
    return (
      sseEvent("message_start", { type: "message_start", message }) +
      sseEvent("content_block_start", { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } }) +
      sseEvent("ping", { type: "ping" })
    );
  }

  delta(text: string): string {
    return text ? sseEvent("content_block_delta", { type: "content_block_delta", index: 0, delta: { type: "text_delta", text } }) : "";
  }

  /** The tail of a SUCCEEDED generation: tool_use blocks, stop reason and usage (input tokens are known only now). */
  finish(out: MessageOutput): string {
    let s = sseEvent("content_block_stop", { type: "content_block_stop", index: this.index });
    for (const tool of toolUseBlocks(out)) {
      const index = ++this.index;
      s += sseEvent("content_block_start", { type: "content_block_start", index, content_block: { ...tool, input: {} } });
      s += sseEvent("content_block_delta", { type: "content_block_delta", index, delta: { type: "input_json_delta", partial_json: JSON.stringify(tool.input) } });
      s += sseEvent("content_block_stop", { type: "content_block_stop", index });
    }
    s += sseEvent("message_delta", { type: "message_delta", delta: { stop_reason: stopReason(out), stop_sequence: null }, usage: usageOf(out) });
    return s + sseEvent("message_stop", { type: "message_stop" });
  }

  /** A failure once the head is out: Anthropic's error event, `{"type":"error","error":{"type","message"}}`. */
  error(body: { type: "error"; error: { type: string; message: string } }): string {
    return sseEvent("error", body);
  }
}
