import { describe, expect, it } from "vitest";
import { listedModels, modalityOfName } from "./models";

describe("listedModels (GET /models)", () => {
  it("reads OpenAI's bare list, guessing modality from the id and leaving out what we do not route", () => {
    const out = listedModels({ object: "list", data: [{ id: "gpt-5-nano" }, { id: "text-embedding-3-small" }, { id: "dall-e-3" }, { id: "whisper-1" }, { id: "tts-1" }, { nope: 1 }] });
    expect(out).toEqual([{ name: "gpt-5-nano", modality: "TEXT" }, { name: "text-embedding-3-small", modality: "EMBEDDING" }, { name: "dall-e-3", modality: "IMAGE" }]);
  });

  it("reads OpenRouter's prices (USD per token strings), context length, max output and output modalities", () => {
    const out = listedModels({ data: [
      { id: "acme/x", name: "Acme X", context_length: 32_000, pricing: { prompt: "0.000001", completion: "0.000002" }, top_provider: { max_completion_tokens: 2000 }, architecture: { output_modalities: ["text"] } },
      { id: "openrouter/auto", pricing: { prompt: "-1", completion: "-1" }, architecture: { output_modalities: ["text"] } },
      { id: "acme/painter", pricing: { prompt: "0", completion: "0" }, architecture: { output_modalities: ["image"] } },
    ] });
    expect(out[0]).toEqual({ name: "acme/x", modality: "TEXT", description: "Acme X", contextTokens: 32_000, maxOutputTokens: 2000, pricing: { inputPer1kTokens: 1000, outputPer1kTokens: 2000 } });
    expect(out[1]).toEqual({ name: "openrouter/auto", modality: "TEXT" }); // variable price: none
    expect(out[2]).toEqual({ name: "acme/painter", modality: "IMAGE" }); // token prices do not price images
  });

  it("an answer without data is an empty list", () => {
    expect(listedModels({})).toEqual([]);
    expect(listedModels(null)).toEqual([]);
    expect(modalityOfName("nomic-embed-text")).toBe("EMBEDDING");
  });
});
