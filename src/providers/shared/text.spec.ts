import { describe, expect, it } from "vitest";
import type { GenerationRequest } from "../contract";
import { extras, inputText, promptText, textOf } from "./text";

const req = (over: Partial<GenerationRequest>): GenerationRequest => ({ modality: "TEXT", model: "m", params: {}, ...over });

describe("provider text plumbing", () => {
  it("textOf joins text parts, leaving images and empty texts out", () => {
    expect(textOf([{ type: "text", text: "a" }, { type: "image_url", url: "https://x/i.png" }, { type: "text", text: "" }, { type: "text", text: "b" }])).toBe("a\nb");
  });

  it("inputText is system, messages and prompt, one per line", () => {
    const r = req({ system: "sys", messages: [{ role: "user", content: [{ type: "text", text: "hi" }] }], prompt: "p" });
    expect(inputText(r)).toBe("sys\nhi\np");
  });

  it("promptText is the prompt, else every text part of the messages", () => {
    expect(promptText(req({ prompt: "a cat" }))).toBe("a cat");
    expect(promptText(req({ messages: [{ role: "user", content: [{ type: "text", text: "a" }, { type: "text", text: "b" }] }] }))).toBe("a\nb");
    expect(promptText(req({}))).toBeUndefined();
  });

  it("extras drops reserved keys and undefined values", () => {
    expect(extras({ model: "x", top_p: 0.5, user: undefined, seed: 1 }, new Set(["model"]))).toEqual({ top_p: 0.5, seed: 1 });
    expect(extras(undefined, new Set())).toEqual({});
  });
});
