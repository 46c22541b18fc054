import { describe, expect, it } from "vitest";
import type { GenerationRequest } from "../contract";
import { replicateInput, replicateModelRef, validateReplicateRequest } from "./request";

const req = (over: Partial<GenerationRequest>): GenerationRequest => ({ modality: "IMAGE", model: "black-forest-labs/flux-schnell", params: {}, ...over });

describe("replicate request mapping", () => {
  it("official models by name, versions after a colon or as a bare 64-hex id", () => {
    expect(replicateModelRef("black-forest-labs/flux-schnell")).toEqual({ model: "black-forest-labs/flux-schnell" });
    expect(replicateModelRef("owner/name:abc123")).toEqual({ version: "abc123" });
    const hex = "a".repeat(64);
    expect(replicateModelRef(hex)).toEqual({ version: hex });
  });

  it("the input: prompt, size and count for images, seed, then params.input on top", () => {
    const r = req({ prompt: "a fox", seed: 4, image: { width: 512, height: 512, count: 2 }, params: { input: { aspect_ratio: "1:1", seed: 9, skip: undefined } } });
    expect(replicateInput(r)).toEqual({ prompt: "a fox", width: 512, height: 512, num_outputs: 2, seed: 9, aspect_ratio: "1:1" });
    expect(replicateInput(req({ modality: "VIDEO", messages: [{ role: "user", content: [{ type: "text", text: "waves" }] }] }))).toEqual({ prompt: "waves" });
  });

  it("IMAGE or VIDEO only; params.input must be an object", () => {
    expect(validateReplicateRequest("replicate", req({}))).toBeUndefined();
    expect(validateReplicateRequest("replicate", req({ modality: "TEXT" }))).toBe("replicate generates IMAGE or VIDEO, not TEXT");
    expect(validateReplicateRequest("replicate", req({ params: { input: [1] } }))).toBe("params.input must be an object of model inputs");
  });
});
