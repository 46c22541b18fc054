import { describe, expect, it } from "vitest";
import type { ModelInfo } from "../../providers/contract";
import { composeCatalog, unpricedRefusal } from "./compose";
import type { DiscoveredRow } from "./discovered-model.store";

const at = new Date("2026-01-02T03:04:05Z");
const row = (provider: string, name: string, extra: Partial<DiscoveredRow> = {}): DiscoveredRow => ({ provider, name, modality: "TEXT", firstSeenAt: at, seenAt: at, ...extra });
const builtIn: ModelInfo = {
  id: "openrouter/openai/gpt-4o-mini", provider: "openrouter", name: "openai/gpt-4o-mini", modality: "TEXT", description: "built-in", quality: 70,
  pricing: { inputPer1kTokens: 150, outputPer1kTokens: 600 }, contextTokens: 128_000, maxOutputTokens: 16_384, source: "BUILT_IN", pricingSource: "BUILT_IN",
};
const fileModel: ModelInfo = { ...builtIn, id: "openai/gpt-4o", provider: "openai", name: "gpt-4o", pricing: { inputPer1kTokens: 1 }, source: "BUILT_IN", pricingSource: "FILE" };
const opts = { isLocal: (p: string) => p === "ollama" };

describe("composeCatalog", () => {
  it("prices in order: upstream, price table, local, else unpriced; limits come along", () => {
    const out = composeCatalog([], [
      row("openrouter", "acme/x", { pricing: { inputPer1kTokens: 1000, outputPer1kTokens: 2000 }, contextTokens: 32_000, maxOutputTokens: 2000 }),
      row("openai", "gpt-5-nano"),
      row("ollama", "qwen2.5:0.5b"),
      row("openai", "lab-x"),
    ], opts);
    const by = Object.fromEntries(out.map((m) => [m.id, m]));
    expect(by["openrouter/acme/x"]).toMatchObject({ source: "DISCOVERED", pricingSource: "UPSTREAM", contextTokens: 32_000, maxOutputTokens: 2000, seenAt: at.toISOString() });
    expect(by["openai/gpt-5-nano"]).toMatchObject({ pricingSource: "PRICE_TABLE", pricing: { inputPer1kTokens: 50, outputPer1kTokens: 400 }, contextTokens: 400_000 });
    expect(by["ollama/qwen2.5:0.5b"]).toMatchObject({ pricingSource: "LOCAL", pricing: {} });
    expect(by["openai/lab-x"]).toMatchObject({ pricingSource: "UNPRICED", pricing: {} });
    expect(by["openai/lab-x"].unpricedReserveMicros).toBeUndefined(); // deny: no reserve
    expect(by["openai/lab-x"].quality).toBeUndefined(); // never auto's pick
  });

  it("a listed built-in model takes the upstream price; a providers-file price is never replaced", () => {
    const out = composeCatalog([builtIn, fileModel], [
      row("openrouter", "openai/gpt-4o-mini", { pricing: { inputPer1kTokens: 200, outputPer1kTokens: 800 } }),
      row("openai", "gpt-4o", { pricing: { inputPer1kTokens: 9 } }),
    ], opts);
    expect(out.find((m) => m.id === builtIn.id)).toMatchObject({ source: "BUILT_IN", pricingSource: "UPSTREAM", pricing: { inputPer1kTokens: 200 }, quality: 70 });
    expect(out.find((m) => m.id === "openai/gpt-4o")).toMatchObject({ pricingSource: "FILE", pricing: { inputPer1kTokens: 1 }, seenAt: at.toISOString() });
  });

  it("under allow, an unpriced model carries the flat reserve; the refusal says how to price it", () => {
    const [m] = composeCatalog([], [row("openai", "lab-x")], { ...opts, unpricedReserveMicros: 50_000 });
    expect(m.unpricedReserveMicros).toBe(50_000);
    expect(unpricedRefusal(m)).toMatch(/"id": "openai\/lab-x", "modality": "TEXT", "pricing": \{ "inputPer1kTokensUsd".*UNPRICED_MODELS=allow/);
  });
});
