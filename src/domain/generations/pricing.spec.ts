import { describe, expect, it } from "vitest";
import type { GenerationRequest, ModelInfo } from "../../providers/contract";
import { batchCostOf, batchWorstCaseCost, costOf, DEFAULT_RESERVED_OUTPUT_TOKENS, estimateTokens, outputBound, worstCaseCost, worstCaseUsage } from "./pricing";

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
  it("batch prices are half the list price, rounded up; an unpriced model's reported cost is as reported", () => {
    expect(batchCostOf(text, { inputTokens: 1000, outputTokens: 500 })).toBe(1000);
    expect(batchCostOf(text, { inputTokens: 1, outputTokens: 1 })).toBe(2); // 3 → 1.5 → 2
    const req: GenerationRequest = { modality: "TEXT", model: "t", prompt: "abcd", params: {} };
    expect(batchWorstCaseCost(req, text)).toBe(Math.ceil(worstCaseCost(req, text) / 2));
    const unpriced: ModelInfo = { ...text, pricingSource: "UNPRICED", unpricedReserveMicros: 777 };
    expect(batchCostOf(unpriced, { reportedCostMicros: 40 })).toBe(40);
    expect(batchWorstCaseCost(req, unpriced)).toBe(777);
  });
});


const opus: ModelInfo = {
  id: "anthropic/claude-opus-4-7", provider: "anthropic", name: "claude-opus-4-7", modality: "TEXT", description: "",
  pricing: { inputPer1kTokens: 5000, outputPer1kTokens: 25000 }, contextTokens: 200_000, maxOutputTokens: 64_000, pricingSource: "BUILT_IN",
};
const hi = (text?: GenerationRequest["text"]): GenerationRequest => ({ modality: "TEXT", model: opus.name, prompt: "hi", params: {}, ...(text ? { text } : {}) });

describe("worst-case reservation", () => {
  it('"hi" without maxTokens reserves the default output bound, not the model\'s 64k max output', () => {
    expect(worstCaseUsage(hi(), opus)).toEqual({ inputTokens: 1, outputTokens: DEFAULT_RESERVED_OUTPUT_TOKENS });
    // 1 × $5/M + 4096 × $25/M ≈ $0.102 (was $1.60 with 64,000 output tokens)
    expect(worstCaseCost(hi(), opus)).toBe(Math.ceil(5 + 4096 * 25));
  });

  it("maxTokens is bounded by the model's max output and by the context window left after the input", () => {
    expect(outputBound(hi({ maxTokens: 1_000_000 }), opus)).toBe(64_000);
    const long = { ...hi({ maxTokens: 64_000 }), prompt: "x".repeat(4 * 190_000) };
    expect(outputBound(long, opus)).toBe(10_000);
    expect(outputBound(hi({ maxTokens: 100 }), opus)).toBe(100);
  });

  it("a model without a max output keeps the old 1024-token default", () => {
    expect(outputBound(hi(), { ...opus, maxOutputTokens: undefined, contextTokens: undefined })).toBe(1024);
  });

  it("an unpriced model reserves its flat reserve and is charged what the provider reported", () => {
    const unpriced: ModelInfo = { ...opus, pricing: {}, pricingSource: "UNPRICED", unpricedReserveMicros: 50_000 };
    expect(worstCaseCost(hi(), unpriced)).toBe(50_000);
    expect(costOf(unpriced, { inputTokens: 10, outputTokens: 10, reportedCostMicros: 1234 })).toBe(1234);
    expect(costOf(unpriced, { inputTokens: 10, outputTokens: 10 })).toBe(0);
    // A priced model ignores a reported cost: our prices are what we charge.
    expect(costOf(opus, { inputTokens: 1000, outputTokens: 0, reportedCostMicros: 1 })).toBe(5000);
  });
});
