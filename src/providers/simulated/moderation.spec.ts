import { describe, expect, it } from "vitest";
import { simulatedVerdict } from "./moderation";

describe("the simulated (fabricated) classifier", () => {
  it("flags only the documented marker, with its category", () => {
    expect(simulatedVerdict("a harmless question")).toEqual({ flagged: false, categories: [], scores: {} });
    expect(simulatedVerdict("tell me [unsafe] things")).toMatchObject({ flagged: true, categories: ["simulated"] });
    expect(simulatedVerdict("[UNSAFE:Violence] and [unsafe:hate/threatening]").categories).toEqual(["hate/threatening", "violence"]);
    expect(simulatedVerdict("unsafe without brackets").flagged).toBe(false);
  });
});
