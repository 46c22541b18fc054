import { describe, expect, it } from "vitest";
import type { GenerationRequest } from "../contract";
import { minimaxBody, minimaxCodeError, taskState, videoResult } from "./response";

describe("minimax response mapping", () => {
  it("base_resp codes: rate limits, auth, content policy, unpaid (not retryable), invalid parameters, the rest unavailable", () => {
    const h = new Headers({ "retry-after": "3" });
    expect(minimaxCodeError("minimax", 1002, "rpm", h)).toMatchObject({ kind: "rate_limited", retryAfterSeconds: 3 });
    expect(minimaxCodeError("minimax", 2049, "bad key")).toMatchObject({ kind: "auth" });
    expect(minimaxCodeError("minimax", 1026, "sensitive")).toMatchObject({ kind: "content_policy" });
    expect(minimaxCodeError("minimax", 1008, "balance")).toMatchObject({ kind: "invalid_request", retryable: false });
    expect(minimaxCodeError("minimax", 2013, "params")).toMatchObject({ kind: "invalid_request" });
    expect(minimaxCodeError("minimax", 1013, "internal")).toMatchObject({ kind: "unavailable", message: "minimax answered status_code 1013: internal" });
  });

  it("a 2xx body must be a JSON object whose base_resp says success", () => {
    const h = new Headers();
    expect(minimaxBody("minimax", '{"task_id":"1","base_resp":{"status_code":0}}', h)).toMatchObject({ task_id: "1" });
    expect(() => minimaxBody("minimax", "<html>", h)).toThrow(/not JSON/);
    expect(() => minimaxBody("minimax", "[1]", h)).toThrow(/not a JSON object/);
    expect(() => minimaxBody("minimax", '{"base_resp":{"status_code":1004,"status_msg":"login fail"}}', h)).toThrow(expect.objectContaining({ kind: "auth" }));
  });

  it("task states: running with a rough progress, Success with its file, Fail as content policy or bad_response", () => {
    expect(taskState("minimax", "t", { status: "Queueing" }, 3)).toEqual({ done: false, progress: 0.05 });
    expect(taskState("minimax", "t", { status: "Processing" }, 2)).toEqual({ done: false, progress: expect.closeTo(0.3) });
    expect(taskState("minimax", "t", { status: "Processing" }, 50)).toEqual({ done: false, progress: 0.95 });
    expect(taskState("minimax", "t", { status: "Success", file_id: 77 }, 1)).toEqual({ done: true, fileId: "77" });
    expect(() => taskState("minimax", "t", { status: "Success" }, 1)).toThrow(/no file_id/);
    expect(() => taskState("minimax", "t", { status: "Fail", base_resp: { status_code: 1027, status_msg: "x" } }, 1)).toThrow(expect.objectContaining({ kind: "content_policy" }));
    expect(() => taskState("minimax", "t", { status: "Fail", base_resp: { status_code: 0, status_msg: "success" } }, 1)).toThrow(expect.objectContaining({ kind: "bad_response", message: "minimax video task t failed" }));
    expect(() => taskState("minimax", "t", { status: "Sleeping" }, 1)).toThrow(/unknown task status/);
  });

  it("the finished video: size when the query reports one, duration from the request (6 s by default)", () => {
    const req: GenerationRequest = { modality: "VIDEO", model: "m", params: {} };
    const data = Buffer.from("mp4");
    expect(videoResult(data, { video_width: 1280, video_height: 720 }, req)).toEqual({ media: [{ data, mimeType: "video/mp4", durationSeconds: 6, width: 1280, height: 720 }], usage: { seconds: 6 } });
    expect(videoResult(data, { video_width: 0 }, { ...req, video: { durationSeconds: 10 } })).toEqual({ media: [{ data, mimeType: "video/mp4", durationSeconds: 10 }], usage: { seconds: 10 } });
  });
});
