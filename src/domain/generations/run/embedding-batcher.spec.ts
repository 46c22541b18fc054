import { describe, expect, it } from "vitest";
import type { GenerationProvider, GenerationRequest, GenerationResult } from "../../../providers/contract";
import { batchKey, EmbeddingBatcher } from "./embedding-batcher";

const provider = { id: "openai" } as GenerationProvider;
const req = (prompt: string, params: Record<string, unknown> = {}, model = "text-embedding-3-small"): GenerationRequest =>
  ({ modality: "EMBEDDING", model, prompt, params });

describe("EmbeddingBatcher", () => {
  it("batchKey: same provider, model and params (in any key order) share a key; any other param value does not", () => {
    expect(batchKey(provider, req("a", { dimensions: 8, user: "u" }))).toBe(batchKey(provider, req("b", { user: "u", dimensions: 8 })));
    expect(batchKey(provider, req("a", { dimensions: 8 }))).not.toBe(batchKey(provider, req("a", { dimensions: 16 })));
    expect(batchKey(provider, req("a", { user: "u1" }))).not.toBe(batchKey(provider, req("a", { user: "u2" })));
    expect(batchKey(provider, req("a"))).not.toBe(batchKey(provider, req("a", { encoding_format: "base64" })));
    expect(batchKey(provider, req("a"))).not.toBe(batchKey(provider, req("a", {}, "text-embedding-3-large")));
  });

  it("a burst with mixed params goes upstream as one call per params set, each call carrying its own requests only", async () => {
    const calls: GenerationRequest[][] = [];
    const b = new EmbeddingBatcher({ maxSize: 64, maxWaitMs: 20 }, async (_p, reqs) => {
      calls.push(reqs);
      return { results: reqs.map((r) => ({ embedding: [Number(r.params.dimensions ?? 0)], usage: { inputTokens: 1, outputTokens: 0 } }) as unknown as GenerationResult) };
    });
    const signal = new AbortController().signal;
    const dims = [8, 16, 8, 32, 16, 8, undefined, undefined];
    const out = await Promise.all(dims.map((d, i) => b.embed(provider, req(`t${i}`, d === undefined ? {} : { dimensions: d }), signal, 1000)));
    expect(b.calls).toBe(4);
    for (const call of calls) expect(new Set(call.map((r) => JSON.stringify(r.params))).size).toBe(1);
    expect(calls.map((c) => c.length).sort()).toEqual([1, 2, 2, 3]);
    // Each caller got the answer made under its own params.
    out.forEach((o, i) => expect((o.result as unknown as { embedding: number[] }).embedding).toEqual([dims[i] ?? 0]));
    expect(out.map((o) => o.batchSize)).toEqual([3, 2, 3, 1, 2, 3, 2, 2]);
  });
});
