import { describe, expect, it } from "vitest";
import { embeddingResults, imageData, imageItem, imageUsage, splitProportionally } from "./response";

describe("openai-compatible response mapping", () => {
  it("splitProportionally adds up and gives everyone at least 1", () => {
    expect(splitProportionally(10, [1, 1, 2])).toEqual([3, 3, 4]);
    expect(splitProportionally(3, [5, 1, 1])).toEqual([1, 1, 1]);
    const s = splitProportionally(101, [7, 13, 2, 40]);
    expect(s.reduce((a, b) => a + b, 0)).toBe(101);
    expect(Math.min(...s)).toBeGreaterThanOrEqual(1);
  });

  it("embeddings come back in input order (by index), the reported tokens split over the inputs", () => {
    const res = { data: [{ index: 1, embedding: [0, 1] }, { index: 0, embedding: [1, 0] }], usage: { prompt_tokens: 10 } };
    const out = embeddingResults("openai", res, ["short", "a much longer input text"]);
    expect(out.map((r) => r.embedding)).toEqual([[1, 0], [0, 1]]);
    expect(out.reduce((a, r) => a + (r.usage.inputTokens ?? 0), 0)).toBe(10);
  });

  it("a missing, duplicated or non-numeric vector is bad_response", () => {
    expect(() => embeddingResults("openai", { data: [] }, ["a"])).toThrow(/expected 1 embedding/);
    expect(() => embeddingResults("openai", { data: [{ index: 0, embedding: [1] }, { index: 0, embedding: [2] }] }, ["a", "b"])).toThrow(/not a usable vector/);
    expect(() => embeddingResults("openai", { data: [{ embedding: ["x"] }] }, ["a"])).toThrow(expect.objectContaining({ kind: "bad_response" }));
  });

  it("image items are inline bytes or a URL; usage counts images and the tokens gpt-image-* reports", () => {
    const res = { data: [{ b64_json: "aGk=" }, { url: "https://cdn/x.png" }], usage: { input_tokens: 5, output_tokens: 7 } };
    expect(imageData("openai", res).map((it, i) => imageItem("openai", it, i))).toEqual([{ b64: "aGk=" }, { url: "https://cdn/x.png" }]);
    expect(imageUsage(res, 2)).toEqual({ images: 2, inputTokens: 5, outputTokens: 7 });
    expect(imageUsage({}, 1)).toEqual({ images: 1 });
    expect(() => imageData("openai", { data: [] })).toThrow(/holds no images/);
    expect(() => imageItem("openai", {}, 3)).toThrow(/image 3 has neither b64_json nor url/);
  });
});
