/**
 * A fake Hugging Face Inference API (hf-inference / TGI routes) for the `huggingface` adapter:
 * - POST /models/{owner}/{name}/v1/completions — OpenAI-style text completions, what the SDK's
 *   text-generation task calls: `{ model, prompt, max_tokens, … }`. With `"stream": true`
 *   SSE `data: {choices:[{text, finish_reason}]}` chunks then `data: [DONE]` (set
 *   `fake.streamFormat = "tgi"` for TGI's native token events
 *   `data: {"token":{"text":…},"generated_text":null}` … final with generated_text and
 *   details); without it one completion JSON with usage.
 * - POST /models/{owner}/{name} — text-to-image: `{ inputs, parameters: { width, height } }`
 *   answered with PNG bytes of that size (image/png).
 * - GET /api/whoami-v2 — the health check.
 * Every route wants `Authorization: Bearer <token>`. Errors are `{ "error": "…" }`; 503 is
 * "model is loading" with `estimated_time`.
 *
 * Scenarios: ok, 400, 401, 429 (retry-after), 500, 503, 529, malformed, cut (two chunks, then
 * the socket is destroyed), slow.
 */
import type http from "node:http";
import { PNG } from "pngjs";
import { answerErrorScenario, openSse, sendJson, slow, startFakeServer, type FakeProviderServer, type RecordedRequest } from "./fake-server";

export const HF_FAKE_TEXT = "Hello from the fake Hugging Face model, streamed token by token.";
/** `estimated_time` in the 503 "model is loading" body. */
export const HF_FAKE_ESTIMATED_TIME = 20.5;

export interface HuggingFaceFake extends FakeProviderServer {
  /** How text streams: OpenAI completion chunks (default, what /v1/completions sends) or TGI token events. */
  streamFormat: "completions" | "tgi";
}

const errorBody = (status: number, message: string) =>
  status === 503 ? { error: "Model is currently loading", estimated_time: HF_FAKE_ESTIMATED_TIME } : { error: message };

const tokens = (text: string): string[] => text.match(/\S+\s*/g) ?? [text];

function png(width: number, height: number): Buffer {
  const img = new PNG({ width, height });
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      img.data[i] = (x * 255) / Math.max(1, width - 1);
      img.data[i + 1] = (y * 255) / Math.max(1, height - 1);
      img.data[i + 2] = 128;
      img.data[i + 3] = 255;
    }
  return PNG.sync.write(img);
}

function completionChunk(model: string, text: string, finish: string | null) {
  return { id: "cmpl-fake", object: "text_completion", created: 1_760_000_000, model, system_fingerprint: "fake-tgi", choices: [{ index: 0, text, logprobs: null, finish_reason: finish }] };
}

function streamText(res: http.ServerResponse, fake: HuggingFaceFake, model: string, cut: boolean): void {
  const sse = openSse(res);
  const pieces = tokens(HF_FAKE_TEXT);
  const upTo = cut ? 2 : pieces.length;
  if (fake.streamFormat === "tgi") {
    pieces.slice(0, upTo).forEach((p, i) => sse.send({ index: i + 1, token: { id: 100 + i, text: p, logprob: -0.1, special: false }, generated_text: null, details: null }));
    if (cut) return void setTimeout(() => sse.cut(), 30);
    sse.send({
      index: pieces.length + 1,
      token: { id: 2, text: "</s>", logprob: -0.01, special: true },
      generated_text: HF_FAKE_TEXT,
      details: { finish_reason: "eos_token", generated_tokens: pieces.length + 1, seed: null },
    });
    return sse.end();
  }
  for (const p of pieces.slice(0, upTo)) sse.send(completionChunk(model, p, null));
  if (cut) return void setTimeout(() => sse.cut(), 30);
  sse.send(completionChunk(model, "", "stop"));
  sse.send("[DONE]");
  sse.end();
}

function answerText(rec: RecordedRequest, res: http.ServerResponse, fake: HuggingFaceFake, model: string): void {
  const body = (rec.body && typeof rec.body === "object" ? rec.body : {}) as Record<string, unknown>;
  if (typeof body.prompt !== "string" || !body.prompt) return sendJson(res, 422, { error: "Input validation error: `prompt` cannot be empty", error_type: "validation" });
  if (body.max_tokens !== undefined && (typeof body.max_tokens !== "number" || body.max_tokens < 1)) {
    return sendJson(res, 422, { error: "Input validation error: `max_tokens` must be strictly positive", error_type: "validation" });
  }
  const stream = body.stream === true;
  if (fake.scenario === "malformed") {
    if (!stream) return sendJson(res, 200, '{"choices": [{"text": ');
    const sse = openSse(res);
    sse.send('{"choices": [{"text": "Hel');
    return sse.end();
  }
  if (stream) return streamText(res, fake, model, fake.scenario === "cut");
  const completion = tokens(HF_FAKE_TEXT).length;
  sendJson(res, 200, {
    ...completionChunk(model, HF_FAKE_TEXT, "stop"),
    usage: { prompt_tokens: Math.ceil(body.prompt.length / 4), completion_tokens: completion, total_tokens: Math.ceil(body.prompt.length / 4) + completion },
  });
}

function answerImage(rec: RecordedRequest, res: http.ServerResponse, fake: HuggingFaceFake): void {
  const body = (rec.body && typeof rec.body === "object" ? rec.body : {}) as { inputs?: unknown; parameters?: { width?: unknown; height?: unknown } };
  if (typeof body.inputs !== "string" || !body.inputs) return sendJson(res, 400, { error: "inputs: field required" });
  const side = (v: unknown) => (v === undefined ? 512 : typeof v === "number" && Number.isInteger(v) && v >= 16 && v <= 2048 ? v : NaN);
  const width = side(body.parameters?.width);
  const height = side(body.parameters?.height);
  if (Number.isNaN(width) || Number.isNaN(height)) return sendJson(res, 400, { error: "width and height must be integers in 16..2048" });
  if (fake.scenario === "malformed") {
    res.writeHead(200, { "content-type": "image/png" });
    return void res.end("this is not a png");
  }
  res.writeHead(200, { "content-type": "image/png" });
  res.end(png(width, height));
}

export async function startHuggingFaceFake(): Promise<HuggingFaceFake> {
  const fake = (await startFakeServer((rec, res, server) => {
    const f = server as HuggingFaceFake;
    const path = rec.path.split("?")[0];
    const text = /^\/models\/(.+)\/v1\/completions$/.exec(path);
    const image = /^\/models\/(.+)$/.exec(path);
    const route =
      rec.method === "GET" && path === "/api/whoami-v2" ? "whoami" : rec.method === "POST" && text ? "text" : rec.method === "POST" && image ? "image" : undefined;
    if (!route) return sendJson(res, 404, { error: `Not Found: ${rec.method} ${path}` });
    const answer = () => {
      if (answerErrorScenario(f, res, errorBody)) return;
      const auth = rec.headers.authorization;
      if (!auth || !/^Bearer \S+/.test(auth)) return sendJson(res, 401, { error: "Invalid credentials in Authorization header" });
      if (route === "whoami") return sendJson(res, 200, { type: "user", id: "fake-user-id", name: "fake-user", auth: { type: "access_token", accessToken: { displayName: "fake", role: "read" } } });
      if (route === "text") return answerText(rec, res, f, decodeURIComponent(text![1]));
      answerImage(rec, res, f);
    };
    if (f.scenario === "slow") return slow(res, answer);
    answer();
  })) as HuggingFaceFake;
  fake.streamFormat = "completions";
  return fake;
}
