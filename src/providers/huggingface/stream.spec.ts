import { describe, expect, it } from "vitest";
import { TextStream } from "./stream";

describe("huggingface text stream", () => {
  it("reads OpenAI completion chunks: text, finish_reason, usage", () => {
    const deltas: string[] = [];
    const s = new TextStream((d) => deltas.push(d));
    s.push({ choices: [{ index: 0, text: "Hel" }] });
    s.push({ choices: [{ index: 0, text: "lo", finish_reason: "length" }], usage: { prompt_tokens: 3, completion_tokens: 2 } });
    expect(deltas).toEqual(["Hel", "lo"]);
    expect(s.result("huggingface", "prompt")).toEqual({ text: "Hello", usage: { inputTokens: 3, outputTokens: 2 }, finishReason: "length" });
  });

  it("reads TGI token events: special tokens skipped, the last one's details end it", () => {
    const s = new TextStream(() => undefined);
    s.push({ token: { text: "Hi", special: false } });
    s.push({ token: { text: "</s>", special: true }, generated_text: "Hi", details: { finish_reason: "eos_token", generated_tokens: 2 } });
    expect(s.result("huggingface", "a prompt of some length")).toEqual({ text: "Hi", usage: { inputTokens: 6, outputTokens: 2 }, finishReason: "stop" });
  });

  it("an event of neither kind is a SyntaxError; a stream without an end is a (partial) failure", () => {
    const s = new TextStream(() => undefined);
    expect(() => s.push({ what: "?" })).toThrow(SyntaxError);
    s.push({ choices: [{ text: "half" }] });
    expect(() => s.result("huggingface", "p")).toThrow(expect.objectContaining({ kind: "bad_response", partial: true }));
  });

  it("a non-streamed completion: finish_reason and usage from the full body, else stop and estimates", () => {
    const s = new TextStream(() => undefined);
    s.whole("Hello there", { choices: [{ finish_reason: "stop_sequence" }], usage: { completion_tokens: 3 } });
    expect(s.result("huggingface", "p")).toEqual({ text: "Hello there", usage: { inputTokens: 1, outputTokens: 3 }, finishReason: "stop" });
    const bare = new TextStream(() => undefined);
    bare.whole(undefined, undefined);
    expect(bare.result("huggingface", "p")).toMatchObject({ text: "", usage: { outputTokens: 0 }, finishReason: "stop" });
  });
});
