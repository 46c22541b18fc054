import type { Prediction } from "replicate";
import { describe, expect, it } from "vitest";
import type { GenerationRequest } from "../contract";
import { checkedPrediction, outputUrls, predictionProgress, resultFromPrediction } from "./prediction";

const prediction = (over: Partial<Prediction>): Prediction => ({ id: "p1", status: "processing", logs: "", ...over }) as Prediction;
const req: GenerationRequest = { modality: "VIDEO", model: "minimax/video-01", params: {}, video: { durationSeconds: 6 } };
const call = { signal: new AbortController().signal };

describe("replicate predictions", () => {
  it("finds every URL in an output: a string, an array or an object of them", () => {
    expect(outputUrls("https://x/a.png")).toEqual(["https://x/a.png"]);
    expect(outputUrls(["https://x/a.png", "not a url", { video: "data:video/mp4;base64,AA==" }])).toEqual(["https://x/a.png", "data:video/mp4;base64,AA=="]);
    expect(outputUrls(42)).toEqual([]);
  });

  it("an answer that is not a prediction is bad_response", () => {
    expect(checkedPrediction("replicate", { id: "p", status: "starting" })).toMatchObject({ id: "p" });
    expect(() => checkedPrediction("replicate", { status: "starting" })).toThrow(/not a prediction/);
  });

  it("progress from tqdm lines in the logs, else a rough guess by re-check count", () => {
    expect(predictionProgress(prediction({ logs: " 50%|█████     | 25/50 [00:01<00:01]" }), 0)).toBeCloseTo(0.5);
    expect(predictionProgress(prediction({ status: "starting" }), 3)).toBe(0.02);
    expect(predictionProgress(prediction({}), 2)).toBeCloseTo(0.3);
    expect(predictionProgress(prediction({}), 20)).toBe(0.9);
  });

  it("ended predictions: failed (content policy or bad_response), canceled, aborted; data: outputs decoded without a download", async () => {
    await expect(resultFromPrediction(prediction({ status: "failed", error: "NSFW content detected" }), req, call)).rejects.toMatchObject({ kind: "content_policy" });
    await expect(resultFromPrediction(prediction({ status: "failed", error: "CUDA out of memory" }), req, call)).rejects.toMatchObject({ kind: "bad_response", retryable: true });
    await expect(resultFromPrediction(prediction({ status: "canceled" }), req, call)).rejects.toMatchObject({ kind: "cancelled" });
    await expect(resultFromPrediction(prediction({ status: "aborted" }), req, call)).rejects.toMatchObject({ kind: "timeout" });
    await expect(resultFromPrediction(prediction({}), req, call)).rejects.toThrow(/has not finished/);
    const r = await resultFromPrediction(prediction({ status: "succeeded", output: "data:video/mp4;base64,AAAA" }), req, call);
    expect(r).toMatchObject({ media: [{ mimeType: "video/mp4", durationSeconds: 6 }], usage: { seconds: 6 } });
  });
});
