import { describe, expect, it } from "vitest";
import type { GenerationRequest } from "../contract";
import { MessageStream, readStreamError } from "./stream";

const req: GenerationRequest = { modality: "TEXT", model: "m", prompt: "say hello", params: {} };

describe("anthropic message stream", () => {
  it("text deltas, usage from message_start and the last message_delta, stop_reason in OpenAI's vocabulary", () => {
    const deltas: string[] = [];
    const s = new MessageStream((d) => deltas.push(d));
    s.push({ type: "message_start", message: { usage: { input_tokens: 4, output_tokens: 1 } } });
    s.push({ type: "content_block_start", index: 0, content_block: { type: "text", text: "" } });
    s.push({ type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "Hello" } });
    s.push({ type: "content_block_delta", index: 0, delta: { type: "thinking_delta", thinking: "hmm" } });
    s.push({ type: "message_delta", delta: { stop_reason: "max_tokens" }, usage: { output_tokens: 2 } });
    s.push({ type: "message_stop" });
    expect(deltas).toEqual(["Hello"]);
    expect(s.result("anthropic", req)).toEqual({ text: "Hello", usage: { inputTokens: 4, outputTokens: 2 }, finishReason: "length" });
  });

  it("tool_use blocks become OpenAI-shaped tool calls, in block order", () => {
    const s = new MessageStream(() => undefined);
    s.push({ type: "content_block_start", index: 1, content_block: { type: "tool_use", id: "toolu_x", name: "f", input: {} } });
    s.push({ type: "content_block_delta", index: 1, delta: { type: "input_json_delta", partial_json: '{"a":' } });
    s.push({ type: "content_block_delta", index: 1, delta: { type: "input_json_delta", partial_json: "1}" } });
    s.push({ type: "content_block_start", index: 0, content_block: { type: "tool_use", name: "g", input: { b: 2 } } });
    s.push({ type: "message_delta", delta: { stop_reason: "tool_use" } });
    s.push({ type: "message_stop" });
    expect(s.result("anthropic", req).toolCalls).toEqual([
      { id: "toolu_0", type: "function", function: { name: "g", arguments: '{"b":2}' } },
      { id: "toolu_x", type: "function", function: { name: "f", arguments: '{"a":1}' } },
    ]);
  });

  it("a stream without message_stop is never an answer (partial once text went out)", () => {
    const s = new MessageStream(() => undefined);
    s.push({ type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "Hel" } });
    expect(() => s.result("anthropic", req)).toThrow(expect.objectContaining({ kind: "bad_response", partial: true }));
  });

  it("an error event's type names the HTTP status it stands for", () => {
    expect(readStreamError({ type: "overloaded_error", error: { type: "error", error: { type: "overloaded_error", message: "Overloaded" } } })).toEqual({ status: 529, message: "Overloaded" });
    expect(readStreamError({ error: { error: { type: "mystery_error" } } })).toMatchObject({ status: undefined });
  });
});
