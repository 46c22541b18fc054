/**
 * A fake MiniMax (Hailuo video) API: creates video tasks, reports Queueing → Processing →
 * Success over successive queries, retrieves the file and serves its bytes (an MP4 `ftyp`
 * header is enough). Like the real API, most failures are HTTP 200 with
 * `base_resp.status_code ≠ 0`: "400" → 2013 invalid params, "401" → 1004 auth, "429" →
 * 1002 rate limit (plus a Retry-After header); the 5xx scenarios are real HTTP statuses as a
 * gateway in front of MiniMax sends them. "task_failed": creation succeeds, the query says Fail.
 */
import type http from "node:http";
import { answerErrorScenario, sendJson, slow, startFakeServer, type FakeProviderServer, type RecordedRequest } from "./fake-server";

/** A minimal MP4 start: a 24-byte `ftyp` box (isom) followed by a few bytes of an `mdat` box. */
export const FAKE_MP4 = Buffer.concat([
  Buffer.from([0, 0, 0, 24]),
  Buffer.from("ftypisom", "latin1"),
  Buffer.from([0, 0, 2, 0]),
  Buffer.from("isomiso2", "latin1"),
  Buffer.from([0, 0, 0, 16]),
  Buffer.from("mdat", "latin1"),
  Buffer.from("fakevideo!", "latin1"),
  Buffer.from([0, 0]),
]);

const ok = { status_code: 0, status_msg: "success" };
const baseResp = (status_code: number, status_msg: string) => ({ base_resp: { status_code, status_msg } });

/** MiniMax's in-body code for each error scenario answered with HTTP 200. */
const IN_BODY: Partial<Record<string, [number, string]>> = {
  "400": [2013, "invalid params, duration must be 6 or 10"],
  "401": [1004, "login fail: Please carry the API secret key in the 'Authorization' field of the request header"],
  "429": [1002, "rate limit exceeded(RPM)"],
};

interface FakeTask {
  queries: number;
  failed: boolean;
  fileId: string;
  /** The query that reports Success (fixed when the task is created). */
  doneAt: number;
}

/** The MiniMax fake; `queriesToFinish` (default 3) is how many queries a new task takes to succeed. */
export interface MiniMaxFake extends FakeProviderServer {
  /** Query n of a task (counted from 1) reports Success; 1 is Queueing, the ones between Processing. */
  queriesToFinish: number;
}

export async function startMiniMaxFake(): Promise<MiniMaxFake> {
  const tasks = new Map<string, FakeTask>();
  let next = 106_916_112_212_032;
  let fake!: MiniMaxFake;

  const errorScenario = (s: FakeProviderServer, res: http.ServerResponse): boolean => {
    const inBody = IN_BODY[s.scenario];
    if (inBody) {
      const headers: Record<string, string> = s.scenario === "429" ? { "retry-after": String(s.retryAfterSeconds) } : {};
      sendJson(res, 200, { task_id: "", ...baseResp(inBody[0], inBody[1]) }, headers);
      return true;
    }
    return answerErrorScenario(s, res, (status, message) => baseResp(status === 529 ? 1013 : 1000, message));
  };

  const base = await startFakeServer((req: RecordedRequest, res, s) => {
    const url = new URL(req.path, "http://fake");

    // The signed download URL: served without a key, whatever the scenario.
    if (req.method === "GET" && url.pathname.startsWith("/download/")) {
      res.writeHead(200, { "content-type": "video/mp4", "content-length": String(FAKE_MP4.length) });
      res.end(FAKE_MP4);
      return;
    }
    if (s.scenario === "slow") return slow(res, () => sendJson(res, 200, { task_id: "late", base_resp: ok }));
    if (s.scenario !== "task_failed" && errorScenario(s, res)) return;

    if (req.method === "POST" && url.pathname === "/v1/video_generation") {
      if (s.scenario === "malformed") {
        res.writeHead(200, { "content-type": "application/json" });
        res.end('{"task_id": "1069161122');
        return;
      }
      const body = (req.body ?? {}) as Record<string, unknown>;
      if (typeof body.model !== "string" || (!body.prompt && !body.first_frame_image)) {
        return sendJson(res, 200, { task_id: "", ...baseResp(2013, "invalid params, model and prompt are required") });
      }
      const taskId = String(next++);
      tasks.set(taskId, { queries: 0, failed: s.scenario === "task_failed", fileId: String(next++), doneAt: Math.max(2, fake.queriesToFinish) });
      return sendJson(res, 200, { task_id: taskId, base_resp: ok });
    }

    if (req.method === "GET" && url.pathname === "/v1/query/video_generation") {
      const taskId = url.searchParams.get("task_id") ?? "";
      const task = tasks.get(taskId);
      if (!task) return sendJson(res, 200, { task_id: taskId, status: "", file_id: "", ...baseResp(2013, "task not found") });
      task.queries++;
      if (task.failed) return sendJson(res, 200, { task_id: taskId, status: "Fail", file_id: "", base_resp: ok });
      const status = task.queries === 1 ? "Queueing" : task.queries < task.doneAt ? "Processing" : "Success";
      return sendJson(res, 200, {
        task_id: taskId,
        status,
        file_id: status === "Success" ? task.fileId : "",
        ...(status === "Success" ? { video_width: 1366, video_height: 768 } : {}),
        base_resp: ok,
      });
    }

    if (req.method === "GET" && url.pathname === "/v1/files/retrieve") {
      const fileId = url.searchParams.get("file_id") ?? "";
      const known = [...tasks.values()].some((t) => t.fileId === fileId);
      if (!known) return sendJson(res, 200, baseResp(2013, "file not found"));
      return sendJson(res, 200, {
        file: {
          file_id: Number(fileId),
          bytes: FAKE_MP4.length,
          created_at: Math.floor(Date.now() / 1000),
          filename: "output.mp4",
          purpose: "video_generation",
          download_url: `${s.url}/download/${fileId}/output.mp4?Expires=1999999999&Signature=fake`,
        },
        base_resp: ok,
      });
    }

    if (req.method === "GET" && url.pathname === "/v1/files/list") {
      return sendJson(res, 200, { files: [], base_resp: ok });
    }

    sendJson(res, 404, baseResp(1000, `no route ${req.method} ${url.pathname}`));
  });
  fake = Object.assign(base, { queriesToFinish: 3 });
  return fake;
}
