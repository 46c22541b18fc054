import { describe, expect, it } from "vitest";
import type { GenerationRequest } from "../contract";
import { minimaxResolution, validateMinimaxRequest, videoGenerationBody } from "./request";

const req = (over: Partial<GenerationRequest>): GenerationRequest => ({ modality: "VIDEO", model: "MiniMax-Hailuo-02", params: {}, ...over });

describe("minimax request mapping", () => {
  it("names resolutions by their short side", () => {
    expect(minimaxResolution("1080p")).toBe("1080P");
    expect(minimaxResolution("1920x1080")).toBe("1080P");
    expect(minimaxResolution("768 × 1366")).toBe("768P");
    expect(minimaxResolution("hd")).toBe("hd");
    expect(minimaxResolution(undefined)).toBeUndefined();
  });

  it("the body: model, prompt, duration (6 s by default), resolution and first frame; params never override them", () => {
    expect(videoGenerationBody(req({ prompt: "waves", params: { prompt_optimizer: false, duration: 99 } }))).toEqual({ prompt_optimizer: false, model: "MiniMax-Hailuo-02", prompt: "waves", duration: 6 });
    expect(videoGenerationBody(req({ video: { durationSeconds: 10, resolution: "768p", imageUrl: "https://x/f.png" } }))).toEqual({
      model: "MiniMax-Hailuo-02", prompt: "", duration: 10, resolution: "768P", first_frame_image: "https://x/f.png",
    });
  });

  it("VIDEO only, from a prompt or a first frame", () => {
    expect(validateMinimaxRequest("minimax", req({ prompt: "x" }))).toBeUndefined();
    expect(validateMinimaxRequest("minimax", req({ video: { durationSeconds: 6, imageUrl: "https://x/f.png" } }))).toBeUndefined();
    expect(validateMinimaxRequest("minimax", req({}))).toBe("minimax needs a prompt or video.imageUrl (image-to-video)");
    expect(validateMinimaxRequest("minimax", req({ modality: "IMAGE" }))).toBe("minimax generates VIDEO only, not IMAGE");
  });
});
