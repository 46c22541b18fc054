import { describe, expect, it } from "vitest";
import type { ModelInfo } from "../../../providers/contract";
import { findModel, modelList } from "./models.mapping";

const text: ModelInfo = { id: "simulated/text", provider: "simulated", name: "text", modality: "TEXT", description: "t", pricing: { inputPer1kTokens: 100, outputPer1kTokens: 200 }, maxOutputTokens: 4096, quality: 10 };
const image: ModelInfo = { id: "simulated/image", provider: "simulated", name: "image", modality: "IMAGE", description: "i", pricing: { perImage: 2000 } };

describe("models mapping", () => {
  const view = { available: [text, image], aliases: { "fast-text": ["openai/gpt-4o-mini", "simulated/text"], video: ["simulated/video"] }, created: 1_700_000_000 };

  it("lists the viewer's models, the aliases it can use (only their usable models) and auto, in OpenAI's shape", () => {
    const list = modelList(view);
    expect(list.object).toBe("list");
    expect(list.data.map((m) => m.id)).toEqual(["simulated/text", "simulated/image", "fast-text", "auto"]);
    expect(list.data[0]).toEqual({
      id: "simulated/text", object: "model", created: 1_700_000_000, owned_by: "simulated",
      switchboard: {
        kind: "model", modality: "TEXT", provider: "simulated", description: "t", quality: 10, maxOutputTokens: 4096,
        pricing: { source: "BUILT_IN", inputPer1kTokensUsd: 0.0001, outputPer1kTokensUsd: 0.0002 }, source: "BUILT_IN",
      },
    });
    expect(list.data[1].switchboard.quality).toBe(0); // no quality score: auto never picks it
    expect(list.data[2]).toMatchObject({ owned_by: "switchboard", switchboard: { kind: "alias", modality: "TEXT", aliasOf: ["simulated/text"] } });
    expect(list.data[3]).toMatchObject({ id: "auto", owned_by: "switchboard", switchboard: { kind: "auto", modality: null } });
  });

  it("finds one entry, or nothing for what the viewer may not use", () => {
    expect(findModel(view, "simulated/image")?.switchboard.pricing).toEqual({ source: "BUILT_IN", perImageUsd: 0.002 });
    expect(findModel(view, "video")).toBeUndefined();
    expect(findModel(view, "openai/gpt-4o-mini")).toBeUndefined();
    expect(modelList({ ...view, available: [] }).data).toEqual([]);
  });
});
