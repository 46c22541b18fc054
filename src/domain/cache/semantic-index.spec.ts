import { describe, expect, it } from "vitest";
import { localEmbedding } from "./local-embedder";
import { SemanticIndex } from "./semantic-index";

describe("local embedder", () => {
  const cos = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i], 0);
  it("word order and stop words do not matter; different subjects are far apart", () => {
    expect(cos(localEmbedding("ocean at sunset"), localEmbedding("sunset over the ocean"))).toBeGreaterThan(0.99);
    expect(cos(localEmbedding("a red fox in the snow"), localEmbedding("red foxes in snow"))).toBeGreaterThan(0.92);
    expect(cos(localEmbedding("ocean at sunset"), localEmbedding("a city at night"))).toBeLessThan(0.5);
  });
  it("is L2-normalised", () => {
    const v = localEmbedding("anything at all");
    expect(Math.sqrt(v.reduce((s, x) => s + x * x, 0))).toBeCloseTo(1, 5);
  });
});

describe("SemanticIndex", () => {
  it("finds the nearest entry above the threshold, per scope", () => {
    const idx = new SemanticIndex();
    idx.add("user:a", "g1", localEmbedding("sunset over the ocean"));
    idx.add("user:a", "g2", localEmbedding("a city at night"));
    expect(idx.search("user:a", localEmbedding("ocean at sunset"), 0.92)).toEqual({ id: "g1", similarity: expect.any(Number) });
    expect(idx.search("user:b", localEmbedding("ocean at sunset"), 0.92)).toBeNull();
    expect(idx.search("user:a", localEmbedding("mountains in fog"), 0.92)).toBeNull();
  });
  it("grows past its initial capacity and removes entries", () => {
    const idx = new SemanticIndex(8);
    for (let i = 0; i < 200; i++) {
      const v = new Float32Array(8);
      v[i % 8] = 1;
      idx.add("s", `g${i}`, v);
    }
    expect(idx.size("s")).toBe(200);
    expect(idx.remove("s", "g0")).toBe(true);
    expect(idx.size("s")).toBe(199);
    const q = new Float32Array(8);
    q[0] = 1;
    expect(idx.search("s", q, 0.99)!.id).not.toBe("g0");
  });
});
