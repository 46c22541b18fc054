import { PNG } from "pngjs";
import { describe, expect, it } from "vitest";
import type { GenerationRequest } from "../../../providers/contract";
import { validateOutput } from "./output-validation";

const png = (w: number, h: number) => PNG.sync.write(new PNG({ width: w, height: h }));
const text = (responseFormat?: "JSON"): GenerationRequest => ({ modality: "TEXT", model: "m", params: {}, prompt: "p", text: responseFormat ? { responseFormat } : {} });

describe("validateOutput", () => {
  it("text must be non-empty, and parse when JSON was asked for", () => {
    expect(validateOutput({ text: "  ", usage: {} }, text())).toMatch(/empty/);
    expect(validateOutput({ text: "hi", usage: {} }, text())).toBeUndefined();
    expect(validateOutput({ text: "{oops", usage: {} }, text("JSON"))).toMatch(/JSON/);
    expect(validateOutput({ text: '{"a":1}', usage: {} }, text("JSON"))).toBeUndefined();
    expect(validateOutput({ text: "", toolCalls: [{}], usage: {} }, text())).toBeUndefined();
  });
  it("an image must decode at the requested size", () => {
    const req: GenerationRequest = { modality: "IMAGE", model: "m", params: {}, prompt: "p", image: { width: 64, height: 32, count: 1 } };
    expect(validateOutput({ media: [{ data: png(64, 32), mimeType: "image/png" }], usage: {} }, req)).toBeUndefined();
    expect(validateOutput({ media: [{ data: png(32, 32), mimeType: "image/png" }], usage: {} }, req)).toMatch(/32×32, not the requested 64×32/);
    expect(validateOutput({ media: [{ data: Buffer.from("not an image"), mimeType: "image/png" }], usage: {} }, req)).toMatch(/does not decode/);
  });
  it("embeddings must be finite numbers", () => {
    const req: GenerationRequest = { modality: "EMBEDDING", model: "m", params: {}, prompt: "p" };
    expect(validateOutput({ embedding: [], usage: {} }, req)).toMatch(/empty/);
    expect(validateOutput({ embedding: [0.1, Number.NaN], usage: {} }, req)).toMatch(/finite/);
    expect(validateOutput({ embedding: [0.1, 0.2], usage: {} }, req)).toBeUndefined();
  });
});
