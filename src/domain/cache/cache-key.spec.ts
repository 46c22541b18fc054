import { describe, expect, it } from "vitest";
import type { GenerationRequest } from "../../providers/contract";
import { cacheKey, canonical, decide, derivedSeed } from "./cache-key";

const base: GenerationRequest = { modality: "TEXT", model: "text", prompt: "Hello   world", params: {}, text: { temperature: 0, maxTokens: 10 } };
const key = (r: Partial<GenerationRequest>, o: { ignored?: string[]; route?: string; cs?: boolean } = {}) =>
  cacheKey({ route: o.route ?? "simulated/text", request: { ...base, ...r }, ignoredParams: o.ignored ?? ["simulate"], caseSensitive: o.cs ?? true });

describe("cache key", () => {
  it("folds whitespace but keeps case by default", () => {
    expect(key({ prompt: "  Hello world " })).toBe(key({}));
    expect(key({ prompt: "hello world" })).not.toBe(key({}));
    expect(key({ prompt: "hello world" }, { cs: false })).toBe(key({}, { cs: false }));
  });
  it("changes with every output-affecting field", () => {
    const k = key({});
    expect(key({ seed: 1 })).not.toBe(k);
    expect(key({ text: { temperature: 0, maxTokens: 11 } })).not.toBe(k);
    expect(key({ text: { temperature: 0, maxTokens: 10, responseFormat: "JSON" } })).not.toBe(k);
    expect(key({}, { route: "simulated/other" })).not.toBe(k);
    expect(key({ system: "be brief" })).not.toBe(k);
    expect(key({ params: { top_k: 3 } })).not.toBe(k);
  });
  it("ignores params that do not affect output, and key order", () => {
    expect(key({ params: { simulate: { latencyMs: 500 } } })).toBe(key({}));
    expect(canonical({ b: 1, a: { d: 2, c: 3 } })).toBe(canonical({ a: { c: 3, d: 2 }, b: 1 }));
  });
  it("image size is part of the key", () => {
    const img = (w: number) => key({ modality: "IMAGE", prompt: "x", text: undefined, image: { width: w, height: w, count: 1 } });
    expect(img(512)).not.toBe(img(1024));
  });
});

describe("the default rule", () => {
  it("AUTO caches only deterministic requests", () => {
    expect(decide("AUTO", { ...base, text: { temperature: 0.7 } })).toEqual({ read: false, write: false });
    expect(decide("AUTO", { ...base, text: {} })).toEqual({ read: false, write: false });
    expect(decide("AUTO", { ...base, text: { temperature: 0 } })).toEqual({ read: true, write: true });
    expect(decide("AUTO", { ...base, text: { temperature: 1 }, seed: 4 })).toEqual({ read: true, write: true });
    expect(decide("AUTO", { modality: "EMBEDDING", model: "e", prompt: "x", params: {} })).toEqual({ read: true, write: true });
    expect(decide("AUTO", { modality: "IMAGE", model: "i", prompt: "x", params: {} })).toEqual({ read: false, write: false });
  });
  it("USE, BYPASS and REFRESH", () => {
    expect(decide("USE", { ...base, text: {} })).toEqual({ read: true, write: true });
    expect(decide("BYPASS", base)).toEqual({ read: false, write: false });
    expect(decide("REFRESH", base)).toEqual({ read: false, write: true });
  });
  it("derives a stable non-negative seed", () => {
    expect(derivedSeed("ffffffff00")).toBe(0x7fffffff);
    expect(derivedSeed("0000002a")).toBe(42);
  });
});
