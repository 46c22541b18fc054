import { describe, expect, it } from "vitest";
import { embeddingCommands, embeddingsResponse, float32Base64, MAX_EMBEDDING_INPUTS, parseEmbeddingsRequest } from "./embeddings.mapping";

const paramOf = (f: () => unknown): unknown => {
  try {
    f();
  } catch (e) {
    return (e as { extensions: { code: string; field: string } }).extensions;
  }
  throw new Error("did not throw");
};

describe("embeddings mapping", () => {
  it("takes a string or an array of strings; one command per input, dimensions as a provider param", () => {
    expect(parseEmbeddingsRequest({ model: "simulated/embedding", input: "hi" })).toEqual({ model: "simulated/embedding", inputs: ["hi"], encodingFormat: "float" });
    const r = parseEmbeddingsRequest({ model: "m/x", input: ["a", "b"], encoding_format: "base64", dimensions: 64 });
    expect(r).toEqual({ model: "m/x", inputs: ["a", "b"], encodingFormat: "base64", dimensions: 64 });
    expect(embeddingCommands(r)).toEqual([
      { modality: "EMBEDDING", model: "m/x", prompt: "a", params: { dimensions: 64 } },
      { modality: "EMBEDDING", model: "m/x", prompt: "b", params: { dimensions: 64 } },
    ]);
  });

  it("names the param of every bad input", () => {
    expect(paramOf(() => parseEmbeddingsRequest({ input: "x" }))).toMatchObject({ code: "BAD_USER_INPUT", field: "model" });
    expect(paramOf(() => parseEmbeddingsRequest({ model: "m/x", input: [1, 2, 3] }))).toMatchObject({ field: "input" });
    expect(() => parseEmbeddingsRequest({ model: "m/x", input: [[1, 2]] })).toThrow(/token arrays are not supported/);
    expect(paramOf(() => parseEmbeddingsRequest({ model: "m/x", input: [] }))).toMatchObject({ field: "input" });
    expect(() => parseEmbeddingsRequest({ model: "m/x", input: ["a", " "] })).toThrow(/input\[1\] must not be empty/);
    expect(paramOf(() => parseEmbeddingsRequest({ model: "m/x", input: Array(MAX_EMBEDDING_INPUTS + 1).fill("a") }))).toMatchObject({ field: "input" });
    expect(paramOf(() => parseEmbeddingsRequest({ model: "m/x", input: "a", encoding_format: "int8" }))).toMatchObject({ field: "encoding_format" });
    expect(paramOf(() => parseEmbeddingsRequest({ model: "m/x", input: "a", dimensions: 1.5 }))).toMatchObject({ field: "dimensions" });
    expect(() => parseEmbeddingsRequest([])).toThrow(/JSON object/);
  });

  it("answers in OpenAI's shape: float32 floats, or their little-endian bytes in base64, the same numbers", () => {
    const v = [0.1, -0.25, 1 / 3];
    const float = embeddingsResponse("simulated/embedding", [{ embedding: v, inputTokens: 2 }, { embedding: v, inputTokens: 3 }], "float");
    expect(float).toMatchObject({ object: "list", model: "simulated/embedding", usage: { prompt_tokens: 5, total_tokens: 5 } });
    expect(float.data.map((d) => [d.object, d.index])).toEqual([["embedding", 0], ["embedding", 1]]);
    const b64 = embeddingsResponse("simulated/embedding", [{ embedding: v }], "base64").data[0].embedding as string;
    expect(b64).toBe(float32Base64(v));
    const bytes = Buffer.from(b64, "base64");
    const decoded = Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4));
    expect(decoded).toEqual(float.data[0].embedding);
    expect(decoded[2]).toBe(Math.fround(1 / 3));
  });
});
