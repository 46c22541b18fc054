import { describe, expect, it } from "vitest";
import { toMessage } from "./messages-response";
import { MessagesStreamEncoder } from "./messages-stream";

const events = (s: string) =>
  s.split("\n\n").filter(Boolean).map((f) => {
    const [ev, data] = f.split("\n");
    return { event: ev.slice("event: ".length), data: JSON.parse(data.slice("data: ".length)) };
  });

const toolCall = { id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } };

describe("toMessage", () => {
  it("builds Anthropic's Message: msg_ id, text block, stop reason, usage", () => {
    expect(toMessage("g1", "simulated/text", { text: "Hello", usage: { inputTokens: 3, outputTokens: 2 }, finishReason: "stop" })).toEqual({
      id: "msg_g1", type: "message", role: "assistant", model: "simulated/text", content: [{ type: "text", text: "Hello" }],
      stop_reason: "end_turn", stop_sequence: null, usage: { input_tokens: 3, output_tokens: 2 },
    });
    expect(toMessage("g1", "m", { text: "x", usage: {}, finishReason: "length" }).stop_reason).toBe("max_tokens");
  });

  it("maps OpenAI-shaped tool calls to tool_use blocks (stop_reason tool_use)", () => {
    const m = toMessage("g2", "m", { text: "", usage: { outputTokens: 5 }, toolCalls: [toolCall, { function: { name: "bad", arguments: "{" } }] });
    expect(m.content).toEqual([{ type: "tool_use", id: "call_1", name: "get_weather", input: { city: "Paris" } }, { type: "tool_use", id: "toolu_1", name: "bad", input: {} }]);
    expect(m.stop_reason).toBe("tool_use");
  });
});

describe("MessagesStreamEncoder", () => {
  it("sends Anthropic's events in order", () => {
    const enc = new MessagesStreamEncoder("g3", "simulated/text");
    const out = events(enc.start() + enc.delta("Hel") + enc.delta("") + enc.delta("lo") + enc.finish({ text: "Hello", usage: { inputTokens: 4, outputTokens: 2 }, finishReason: "stop", toolCalls: [toolCall] }));
    expect(out.map((e) => e.event)).toEqual([
      "message_start", "content_block_start", "ping", "content_block_delta", "content_block_delta", "content_block_stop",
      "content_block_start", "content_block_delta", "content_block_stop", "message_delta", "message_stop",
    ]);
    expect(out[0].data.message).toMatchObject({ id: "msg_g3", role: "assistant", content: [], stop_reason: null });
    expect(out[3].data).toEqual({ type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "Hel" } });
    expect(out[6].data).toEqual({ type: "content_block_start", index: 1, content_block: { type: "tool_use", id: "call_1", name: "get_weather", input: {} } });
    expect(out[7].data.delta).toEqual({ type: "input_json_delta", partial_json: '{"city":"Paris"}' });
    expect(out[9].data).toEqual({ type: "message_delta", delta: { stop_reason: "tool_use", stop_sequence: null }, usage: { input_tokens: 4, output_tokens: 2 } });
  });

  it("ends a failed stream with an error event", () => {
    expect(events(new MessagesStreamEncoder("g", "m").error({ type: "error", error: { type: "overloaded_error", message: "Overloaded" } }))).toEqual([
      { event: "error", data: { type: "error", error: { type: "overloaded_error", message: "Overloaded" } } },
    ]);
  });
});
