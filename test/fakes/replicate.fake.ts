/**
 * A fake Replicate HTTP API (https://replicate.com/docs/reference/http): predictions created
 * through POST /v1/predictions (a version) or POST /v1/models/{owner}/{name}/predictions
 * (an official model), read with GET /v1/predictions/{id}, cancelled with
 * POST /v1/predictions/{id}/cancel, and GET /v1/account. A prediction is `starting` when
 * created, `processing` (with tqdm-style logs) on the first read and `succeeded` on the next,
 * its output URLs pointing at /delivery/{id}/out-{i}.png on this server: PNGs (pngjs) at the
 * requested width × height (an MP4 stand-in for models whose name contains "video").
 * Errors are Replicate's problem-details bodies: { title, detail, status }.
 */
import { randomBytes } from "node:crypto";
import { PNG } from "pngjs";
import { answerErrorScenario, sendJson, slow, startFakeServer, type FakeProviderServer } from "./fake-server";
import { FAKE_MP4 } from "./minimax.fake";

export interface FakePrediction {
  id: string;
  model: string;
  version: string;
  input: Record<string, unknown>;
  logs: string;
  output: unknown;
  data_removed: boolean;
  error: string | null;
  status: "starting" | "processing" | "succeeded" | "failed" | "canceled";
  created_at: string;
  started_at?: string;
  completed_at?: string;
  webhook?: string;
  webhook_events_filter?: string[];
  metrics?: { predict_time?: number; total_time?: number };
  urls: { get: string; cancel: string; stream?: string; web: string };
}

/** The fake's side of the test: predictions by id (a test may inspect or tweak them). */
export interface ReplicateFake extends FakeProviderServer {
  predictions: Map<string, FakePrediction>;
  /**
   * Ends a running prediction now, as Replicate would before calling its webhook: succeeded
   * (output URLs on this server) or failed. Returns the prediction (its webhook body).
   */
  finishPrediction(id: string, failed?: boolean): FakePrediction;
}

const TITLES: Record<number, string> = {
  400: "Bad request",
  401: "Unauthenticated",
  404: "Not found",
  422: "Input validation failed",
  429: "Request was throttled",
  500: "Internal server error",
  503: "Service unavailable",
  529: "Overloaded",
};
const problem = (status: number, detail: string) => ({ title: TITLES[status] ?? "Error", detail, status });

/** Replicate ids: 26 lowercase base32 characters. */
function predictionId(): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz234567";
  return [...randomBytes(26)].map((b) => alphabet[b % 32]).join("");
}

/** A small gradient PNG of the given size. */
export function fakePng(width: number, height: number): Buffer {
  const png = new PNG({ width, height });
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      png.data[i] = (x * 255) / Math.max(1, width - 1);
      png.data[i + 1] = (y * 255) / Math.max(1, height - 1);
      png.data[i + 2] = 128;
      png.data[i + 3] = 255;
    }
  return PNG.sync.write(png);
}

const size = (v: unknown, fallback: number): number => (typeof v === "number" && Number.isInteger(v) && v > 0 && v <= 2048 ? v : fallback);

export async function startReplicateFake(): Promise<ReplicateFake> {
  const predictions = new Map<string, FakePrediction>();
  const failing = new Set<string>();
  let server!: ReplicateFake;

  const finish = (p: FakePrediction, failed: boolean): void => {
    p.completed_at = new Date().toISOString();
    p.metrics = { predict_time: 1.23, total_time: 1.5 };
    if (failed) {
      p.status = "failed";
      p.error = "CUDA out of memory. Tried to allocate 2.00 GiB";
      p.logs += "Traceback (most recent call last):\n  ...\ntorch.OutOfMemoryError: CUDA out of memory.\n";
      return;
    }
    p.status = "succeeded";
    const count = Math.max(1, Math.min(4, typeof p.input.num_outputs === "number" ? p.input.num_outputs : 1));
    const video = /video/i.test(p.model);
    p.output = video ? `${server.url}/delivery/${p.id}/output.mp4` : Array.from({ length: count }, (_, i) => `${server.url}/delivery/${p.id}/out-${i}.png`);
    p.logs += "100%|██████████| 4/4 [00:01<00:00,  3.20it/s]\n";
  };

  const base = await startFakeServer((req, res, s) => {
    const url = new URL(req.path, "http://fake");
    const path = url.pathname;

    // Output files (replicate.delivery in real life): no key needed, whatever the scenario.
    const delivery = /^\/delivery\/([a-z0-9]+)\/(out-(\d+)\.png|output\.mp4)$/.exec(path);
    if (req.method === "GET" && delivery) {
      const p = predictions.get(delivery[1]);
      if (!p || p.status !== "succeeded") return sendJson(res, 404, problem(404, "Not found."));
      if (delivery[2] === "output.mp4") {
        res.writeHead(200, { "content-type": "video/mp4" });
        res.end(FAKE_MP4);
        return;
      }
      const png = fakePng(size(p.input.width, 64), size(p.input.height, 64));
      res.writeHead(200, { "content-type": "image/png", "content-length": String(png.length) });
      res.end(png);
      return;
    }

    if (s.scenario === "slow") return slow(res, () => sendJson(res, 200, problem(500, "too late")));
    if (answerErrorScenario(s, res, (status, message) => problem(status, message))) return;

    const create =
      req.method === "POST" && (path === "/v1/predictions" || /^\/v1\/models\/[^/]+\/[^/]+\/predictions$/.test(path));
    if (create) {
      if (s.scenario === "malformed") {
        res.writeHead(201, { "content-type": "application/json" });
        res.end('{"id": "x7q3", "status": "start');
        return;
      }
      const body = (req.body ?? {}) as Record<string, unknown>;
      const official = /^\/v1\/models\/([^/]+)\/([^/]+)\/predictions$/.exec(path);
      if (!official && typeof body.version !== "string") return sendJson(res, 422, problem(422, "- version: Invalid type. Expected: string, given: null\n"));
      if (!body.input || typeof body.input !== "object") return sendJson(res, 422, problem(422, "- input: Invalid type. Expected: object, given: null\n"));
      const id = predictionId();
      const api = `${s.url}/v1/predictions/${id}`;
      const p: FakePrediction = {
        id,
        model: official ? `${official[1]}/${official[2]}` : "owner/some-model",
        version: official ? "hidden" : String(body.version),
        input: body.input as Record<string, unknown>,
        logs: "",
        output: null,
        data_removed: false,
        error: null,
        status: "starting",
        created_at: new Date().toISOString(),
        urls: { get: api, cancel: `${api}/cancel`, web: `https://replicate.com/p/${id}` },
        ...(typeof body.webhook === "string" ? { webhook: body.webhook } : {}),
        ...(Array.isArray(body.webhook_events_filter) ? { webhook_events_filter: body.webhook_events_filter as string[] } : {}),
      };
      // task_failed is decided when the prediction is created; the reads play it out.
      if (s.scenario === "task_failed") failing.add(id);
      predictions.set(id, p);
      return sendJson(res, 201, p);
    }

    const one = /^\/v1\/predictions\/([a-z0-9]+)(\/cancel)?$/.exec(path);
    if (one) {
      const p = predictions.get(one[1]);
      if (!p) return sendJson(res, 404, problem(404, "Not found."));
      if (one[2] && req.method === "POST") {
        if (p.status === "starting" || p.status === "processing") {
          p.status = "canceled";
          p.completed_at = new Date().toISOString();
        }
        return sendJson(res, 200, p);
      }
      if (req.method !== "GET") return sendJson(res, 405, problem(400, "Method not allowed."));
      if (p.status === "starting") {
        p.status = "processing";
        p.started_at = new Date().toISOString();
        p.logs = "Using seed: 42\n 50%|█████     | 2/4 [00:00<00:00,  3.10it/s]\n";
      } else if (p.status === "processing") finish(p, failing.has(p.id));
      return sendJson(res, 200, p);
    }

    if (req.method === "GET" && path === "/v1/account") {
      return sendJson(res, 200, { type: "user", username: "switchboard", name: "Switchboard Test", github_url: "https://github.com/switchboard" });
    }

    sendJson(res, 404, problem(404, "Not found."));
  });
  const finishPrediction = (id: string, failed = false): FakePrediction => {
    const p = predictions.get(id);
    if (!p) throw new Error(`no prediction ${id}`);
    if (p.status === "starting" || p.status === "processing") {
      p.started_at ??= new Date().toISOString();
      finish(p, failed);
    }
    return p;
  };
  server = Object.assign(base, { predictions, finishPrediction });
  return server;
}
