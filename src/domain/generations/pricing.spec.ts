import { describe, expect, it } from "vitest";
import type { ModelInfo } from "../../providers/contract";
import { costOf, estimateTokens, worstCaseUsage } from "./pricing";

const text: ModelInfo = { id: "p/t", provider: "p", name: "t", modality: "TEXT", description: "", pricing: { inputPer1kTokens: 1000, outputPer1kTokens: 2000 }, maxOutputTokens: 100 };

describe("pricing", () => {
  it("estimates tokens at ~4 chars, never 0", () => {
    expect(estimateTokens("")).toBe(1);
    expect(estimateTokens("abcdefgh")).toBe(2);
  });
  it("worst case covers max output tokens", () => {
    expect(worstCaseUsage({ modality: "TEXT", model: "t", prompt: "abcd", params: {} }, text)).toEqual({ inputTokens: 1, outputTokens: 100 });
    expect(worstCaseUsage({ modality: "TEXT", model: "t", prompt: "abcd", params: {}, text: { maxTokens: 7 } }, text).outputTokens).toBe(7);
  });
  it("costs in integer micro-USD, rounding up", () => {
    expect(costOf(text, { inputTokens: 1, outputTokens: 1 })).toBe(3);
    expect(costOf(text, { inputTokens: 1000, outputTokens: 500 })).toBe(2000);
    expect(costOf({ ...text, pricing: { perImage: 2000 } }, { images: 3 })).toBe(6000);
  });
});
