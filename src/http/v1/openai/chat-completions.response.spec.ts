import { describe, expect, it } from "vitest";
import { chatCompletion, chunk } from "./chat-completions.response";

const createdAt = new Date("2026-01-01T00:00:00Z");

describe("chat completion objects", () => {
  it("a text answer: id, usage from tokens, finish_reason", () => {
    const c = chatCompletion({ id: "g1", createdAt, model: "simulated/text", output: { text: "hi", usage: { inputTokens: 3, outputTokens: 2 }, finishReason: "max_tokens" } });
    expect(c).toMatchObject({
      id: "chatcmpl-g1", object: "chat.completion", created: 1767225600, model: "simulated/text",
      choices: [{ index: 0, message: { role: "assistant", content: "hi" }, finish_reason: "length" }],
      usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 },
    });
  });

  it("tool calls: content null, finish_reason tool_calls, arguments as a JSON string", () => {
    const c = chatCompletion({ id: "g2", createdAt, model: "m", output: { text: "", toolCalls: [{ id: "call_1", type: "function", function: { name: "f", arguments: "{\"a\":1}" } }, { name: "g", input: { b: 2 } }] } });
    expect(c.choices[0].finish_reason).toBe("tool_calls");
    expect(c.choices[0].message.content).toBeNull();
    expect(c.choices[0].message.tool_calls).toEqual([
      { id: "call_1", type: "function", function: { name: "f", arguments: "{\"a\":1}" } },
      { id: "call_1", type: "function", function: { name: "g", arguments: "{\"b\":2}" } }, // no id of its own: call_<index>
    ]);
  });

  it("chunks: one choice with the delta, or none (the usage chunk)", () => {
    expect(chunk({ id: "g", createdAt, model: "m" }, { delta: { content: "a" } }).choices).toEqual([{ index: 0, delta: { content: "a" }, logprobs: null, finish_reason: null }]);
    expect(chunk({ id: "g", createdAt, model: "m" }, null, { usage: { total_tokens: 1 } })).toMatchObject({ object: "chat.completion.chunk", choices: [], usage: { total_tokens: 1 } });
  });
});
