import { describe, expect, it } from "vitest";
import type { GenerationRequest } from "../contract";
import { mulberry32 } from "./seeding";
import { chunkText, hashedNgramEmbedding, simulatedAnswer } from "./text";
import { estimateTokens } from "../shared/tokens";

const req = (over: Partial<GenerationRequest> = {}): GenerationRequest => ({
  modality: "TEXT",
  model: "text",
  prompt: "Explain queues in one paragraph",
  params: {},
  ...over,
});
const cosine = (a: number[], b: number[]): number => a.reduce((s, v, i) => s + v * b[i], 0);

describe("estimateTokens", () => {
  it("is about chars/4 and at least 1", () => {
    expect(estimateTokens("")).toBe(1);
    expect(estimateTokens("abcd")).toBe(1);
    expect(estimateTokens("abcde")).toBe(2);
  });
});

describe("simulatedAnswer", () => {
  it("names the prompt and is deterministic per rng seed", () => {
    const a = simulatedAnswer(req(), mulberry32(1));
    expect(a.startsWith("Simulated answer to: Explain queues in one paragraph.")).toBe(true);
    expect(simulatedAnswer(req(), mulberry32(1))).toBe(a);
    expect(simulatedAnswer(req(), mulberry32(2))).not.toBe(a);
  });

  it("stays within maxTokens", () => {
    for (const maxTokens of [1, 5, 40, 300]) {
      const answer = simulatedAnswer(req({ text: { maxTokens } }), mulberry32(3));
      expect(estimateTokens(answer)).toBeLessThanOrEqual(maxTokens);
    }
  });

  it("uses the last user message when there is no prompt", () => {
    const messages = [
      { role: "user" as const, content: [{ type: "text" as const, text: "first" }] },
      { role: "assistant" as const, content: [{ type: "text" as const, text: "reply" }] },
      { role: "user" as const, content: [{ type: "text" as const, text: "second question" }] },
    ];
    expect(simulatedAnswer(req({ prompt: undefined, messages }), mulberry32(1))).toContain("to: second question.");
  });

  it("returns valid JSON for responseFormat JSON", () => {
    const parsed = JSON.parse(simulatedAnswer(req({ text: { responseFormat: "JSON", maxTokens: 3 } }), mulberry32(1)));
    expect(parsed.simulated).toBe(true);
    expect(typeof parsed.answer).toBe("string");
  });
});

describe("chunkText", () => {
  it("splits into 4-code-point chunks that rejoin losslessly", () => {
    const text = "héllo 😀 wörld, streaming";
    const chunks = chunkText(text);
    expect(chunks.join("")).toBe(text);
    expect(chunks.every((c) => Array.from(c).length <= 4)).toBe(true);
    expect(chunks.length).toBe(estimateTokens(text));
  });
});

describe("hashedNgramEmbedding", () => {
  it("is L2-normalised, deterministic and sized by dims", () => {
    const v = hashedNgramEmbedding("The quick brown fox");
    expect(v).toHaveLength(256);
    expect(Math.hypot(...v)).toBeCloseTo(1, 10);
    expect(hashedNgramEmbedding("The quick brown fox")).toEqual(v);
    expect(hashedNgramEmbedding("x", 8)).toHaveLength(8);
    expect(Math.hypot(...hashedNgramEmbedding(""))).toBeCloseTo(1, 10);
  });

  it("puts similar strings closer than unrelated ones", () => {
    const base = hashedNgramEmbedding("the quick brown fox jumps over the lazy dog");
    const near = hashedNgramEmbedding("the quick brown fox jumped over a lazy dog");
    const far = hashedNgramEmbedding("quarterly revenue grew in emerging markets");
    expect(cosine(base, near)).toBeGreaterThan(0.6);
    expect(cosine(base, near)).toBeGreaterThan(cosine(base, far) + 0.3);
  });
});
