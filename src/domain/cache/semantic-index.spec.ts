import { describe, expect, it } from "vitest";
import { offlineEmbedding } from "./offline-embedder";
import { SemanticIndex } from "./semantic-index";

describe("offline hashed embedder", () => {
  const cos = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i], 0);
  it("word order and stop words do not matter; different subjects are far apart", () => {
    expect(cos(offlineEmbedding("ocean at sunset"), offlineEmbedding("sunset over the ocean"))).toBeGreaterThan(0.99);
    expect(cos(offlineEmbedding("a red fox in the snow"), offlineEmbedding("red foxes in snow"))).toBeGreaterThan(0.92);
    expect(cos(offlineEmbedding("ocean at sunset"), offlineEmbedding("a city at night"))).toBeLessThan(0.5);
  });
  it("is L2-normalised", () => {
    const v = offlineEmbedding("anything at all");
    expect(Math.sqrt(v.reduce((s, x) => s + x * x, 0))).toBeCloseTo(1, 5);
  });
});

describe("SemanticIndex", () => {
  it("finds the nearest entry above the threshold, per scope", () => {
    const idx = new SemanticIndex();
    idx.add("user:a", "g1", offlineEmbedding("sunset over the ocean"));
    idx.add("user:a", "g2", offlineEmbedding("a city at night"));
    expect(idx.search("user:a", offlineEmbedding("ocean at sunset"), 0.92)).toEqual({ id: "g1", similarity: expect.any(Number) });
    expect(idx.search("user:b", offlineEmbedding("ocean at sunset"), 0.92)).toBeNull();
    expect(idx.search("user:a", offlineEmbedding("mountains in fog"), 0.92)).toBeNull();
  });
  it("grows past its initial capacity and removes entries", () => {
    const idx = new SemanticIndex();
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

describe("SemanticIndex across embedders", () => {
  it("never compares vectors of different lengths; searchTop orders by similarity", () => {
    const idx = new SemanticIndex();
    idx.add("s", "a", Float32Array.from([1, 0, 0, 0]));
    idx.add("s", "b", Float32Array.from([0.8, 0.6, 0, 0]));
    idx.add("s", "c", Float32Array.from([0, 0, 1, 0]));
    idx.add("s", "wrong-dims", Float32Array.from([1, 0]));
    expect(idx.size("s")).toBe(3);
    expect(idx.search("s", Float32Array.from([1, 0]), 0)).toBeNull();
    expect(idx.searchTop("s", Float32Array.from([1, 0, 0, 0]), 0.5, 5).map((h) => h.id)).toEqual(["a", "b"]);
    expect(idx.searchTop("s", Float32Array.from([1, 0, 0, 0]), 0.5, 1).map((h) => h.id)).toEqual(["a"]);
  });
});
