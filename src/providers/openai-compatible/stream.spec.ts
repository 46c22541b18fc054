import { describe, expect, it } from "vitest";
import type { GenerationRequest } from "../contract";
import { ChatStream, readStreamError } from "./stream";

const req: GenerationRequest = { modality: "TEXT", model: "m", prompt: "say hello", params: {} };

describe("openai-compatible chat stream", () => {
  it("collects choice 0's text, emits each delta, and takes finish_reason and usage", () => {
    const deltas: string[] = [];
    const s = new ChatStream((d) => deltas.push(d));
    s.push({ choices: [{ index: 0, delta: { content: "Hel" } }, { index: 1, delta: { content: "other" } }] });
    s.push({ choices: [{ index: 0, delta: { content: "lo" }, finish_reason: "stop" }] });
    s.push({ choices: [], usage: { prompt_tokens: 3, completion_tokens: 2 } });
    expect(deltas).toEqual(["Hel", "lo"]);
    expect(s.result("openai", req)).toEqual({ text: "Hello", usage: { inputTokens: 3, outputTokens: 2 }, finishReason: "stop" });
  });

  it("assembles tool calls from their deltas (the name set once), ids filled in when missing", () => {
    const s = new ChatStream(() => undefined);
    s.push({ choices: [{ delta: { tool_calls: [{ index: 0, function: { name: "get_weather", arguments: '{"ci' } }] } }] });
    s.push({ choices: [{ delta: { tool_calls: [{ index: 0, function: { name: "get_weather", arguments: 'ty":"Oslo"}' } }] }, finish_reason: "tool_calls" }] });
    const r = s.result("openai", req);
    expect(r.toolCalls).toEqual([{ id: "call_0", type: "function", function: { name: "get_weather", arguments: '{"city":"Oslo"}' } }]);
    expect(r.usage.outputTokens).toBeGreaterThan(0);
  });

  it("estimates usage when the server reports none; a stream without finish_reason is never an answer", () => {
    const s = new ChatStream(() => undefined);
    s.push({ choices: [{ delta: { content: "partial" } }] });
    expect(() => s.result("groq", req)).toThrow(expect.objectContaining({ kind: "bad_response", partial: true }));
    s.push({ choices: [{ delta: {}, finish_reason: "length" }] });
    expect(s.result("groq", req).usage).toEqual({ inputTokens: 3, outputTokens: 2 });
  });

  it("an error event's code is the HTTP status it stands for", () => {
    expect(readStreamError({ error: { code: 502, message: "upstream died" } })).toEqual({ status: 502, message: "upstream died" });
    expect(readStreamError({ error: { code: "server_error", message: "x" } })).toEqual({ status: undefined, message: "x" });
  });
});
