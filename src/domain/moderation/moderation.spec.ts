import { describe, expect, it } from "vitest";
import { createMetrics } from "../../observability/metrics";
import { createLogger } from "../../observability/logger";
import { parseGuardAnswer, type Classifier } from "./classifier";
import { ModerationService } from "./moderation.service";
import { inputTexts, outputTexts } from "./moderation-texts";

describe("what moderation reads", () => {
  it("inputs: system, prompt and every message's text parts, of any modality", () => {
    expect(inputTexts({
      modality: "TEXT", model: "m", params: {}, system: "be nice", prompt: " ",
      messages: [{ role: "user", content: [{ type: "text", text: "hi" }, { type: "image_url", url: "http://x/y.png" }] }, { role: "assistant", content: [{ type: "text", text: "yo" }] }],
    })).toEqual(["be nice", "hi", "yo"]);
    expect(inputTexts({ modality: "VIDEO", model: "m", params: {}, prompt: "a cat" })).toEqual(["a cat"]);
  });
  it("outputs: TEXT answers and tool-call arguments; nothing for media or vectors (no extractor registered)", () => {
    const req = { modality: "TEXT" as const, model: "m", params: {} };
    expect(outputTexts({ text: "answer", toolCalls: [{ id: "1", type: "function", function: { name: "f", arguments: '{"q":"x"}' } }], usage: {} }, req)).toEqual(["answer", '{"q":"x"}']);
    expect(outputTexts({ embedding: [1], usage: {} }, { ...req, modality: "EMBEDDING" })).toEqual([]);
  });
});

describe("a prompted guard model's answer (Llama Guard format)", () => {
  it("safe, unsafe with codes, and anything else refused", () => {
    expect(parseGuardAnswer("anthropic", "safe")).toEqual({ flagged: false, categories: [] });
    expect(parseGuardAnswer("ollama", "unsafe\nS1,S10")).toEqual({ flagged: true, categories: ["hate", "violent_crimes"] });
    expect(parseGuardAnswer("ollama", "Unsafe.")).toEqual({ flagged: true, categories: ["unsafe"] });
    expect(() => parseGuardAnswer("anthropic", "I cannot help with that")).toThrow(/not safe\/unsafe/);
  });
});

describe("ModerationService", () => {
  const make = (classify: Classifier["classify"], onError: "open" | "closed" = "closed", mode: "both" | "input" = "both") =>
    new ModerationService({ cfg: { mode, onError, timeoutMs: 200 }, classifier: { id: "fake", classify }, metrics: createMetrics({ defaultMetrics: false }), log: createLogger("silent") });
  const req = { modality: "TEXT" as const, model: "m", params: {}, prompt: "p" };

  it("flags with the union of categories and accumulates output flags across attempts", async () => {
    const s = make(async (texts) => texts.map(() => ({ flagged: true, categories: ["violence"] })));
    const first = await s.checkOutput({ text: "a", usage: {} }, req, null);
    expect(first).toMatchObject({ kind: "flagged", categories: ["violence"], summary: { flagged: true, stage: "OUTPUT", flaggedAttempts: 1, checked: ["OUTPUT"] } });
    const second = await s.checkOutput({ text: "b", usage: {} }, req, first.kind === "flagged" ? first.summary : null);
    expect(second).toMatchObject({ summary: { flaggedAttempts: 2 } });
  });
  it("a classifier that never answers times out: closed refuses, open lets it through as unchecked", async () => {
    const hang: Classifier["classify"] = () => new Promise(() => undefined); // ignores its signal too
    expect(await make(hang).checkInput(req)).toMatchObject({ kind: "unavailable", reason: expect.stringMatching(/unavailable/) });
    expect(await make(hang, "open").checkInput(req)).toMatchObject({ kind: "clean", summary: { unchecked: ["INPUT"], checked: [] } });
  });
  it("a stage that is off, or nothing to read, is skipped without a call", async () => {
    let calls = 0;
    const s = make(async (t) => (calls++, t.map(() => ({ flagged: false, categories: [] }))), "closed", "input");
    expect(await s.checkOutput({ text: "x", usage: {} }, req, null)).toEqual({ kind: "skipped" });
    expect(await s.checkInput({ ...req, prompt: "" })).toEqual({ kind: "skipped" });
    expect(calls).toBe(0);
  });
});
