import { describe, expect, it } from "vitest";
import type OpenAI from "openai";
import { moderationVerdicts } from "./moderation";

describe("OpenAI /v1/moderations → verdicts", () => {
  it("takes the categories OpenAI set, in input order, and refuses a short answer", () => {
    const res = {
      id: "modr-1", model: "omni-moderation-2024-09-26",
      results: [
        { flagged: false, categories: { violence: false, hate: false }, category_scores: { violence: 0.01, hate: 0 } },
        { flagged: true, categories: { violence: true, "hate/threatening": true, hate: false }, category_scores: { violence: 0.9 } },
        { flagged: true, categories: {}, category_scores: {} },
      ],
    } as unknown as OpenAI.ModerationCreateResponse;
    const v = moderationVerdicts("openai", res, 3);
    expect(v.map((x) => [x.flagged, x.categories])).toEqual([[false, []], [true, ["hate/threatening", "violence"]], [true, ["flagged"]]]);
    expect(v[1].scores).toEqual({ violence: 0.9 });
    expect(() => moderationVerdicts("openai", res, 4)).toThrow(/3 results for 4 inputs/);
  });
});
