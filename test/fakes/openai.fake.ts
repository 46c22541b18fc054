/**
 * A fake OpenAI-compatible server (the `openai-compatible` adapter's upstream), speaking
 * OpenAI's documented wire format under `/v1`:
 *
 * - POST /v1/chat/completions: `stream: true` → SSE `data: {chat.completion.chunk}` events
 *   (role chunk, several content chunks, a finish_reason chunk, a usage chunk when
 *   `stream_options.include_usage`, then `data: [DONE]`); otherwise a `chat.completion` JSON.
 *   With `tools` in the request the model "calls" the first tool (arguments streamed in pieces).
 * - POST /v1/embeddings: one deterministic 8-dim vector per input (hash of the text), with
 *   `index`, `usage.prompt_tokens`; `encoding_format: "base64"` answers little-endian float32.
 * - POST /v1/images/generations: PNGs of the requested `size` (pngjs), as `b64_json`, or as
 *   `url` (served from GET /v1/files/…): see {@link answersUrl}.
 * - GET /v1/models: the model list.
 * - The Batch API (POST /v1/files, POST /v1/batches, GET /v1/batches/:id, GET /v1/files/:id/content): openai-batch.fake.ts.
 * - POST /v1/moderations: see moderation.fake.ts (its own scenario and flagging rule).
 *
 * Scenarios (server.scenario): ok, 400/401/429/500/503/529 (OpenAI error body; 429 with
 * Retry-After), malformed (broken JSON; for streams a `data: {not json` event), cut (streams
 * two content chunks then destroys the socket; non-stream bodies are cut halfway), slow.
 * Everything is deterministic. Per-key scenarios, latency and concurrency tracking: {@link OpenAIFake}.
 */
import { createHash } from "node:crypto";
import type http from "node:http";
import { PNG } from "pngjs";
import { answerModeration } from "./moderation.fake";
import { answerOpenAIBatchApi } from "./openai-batch.fake";
import { answerErrorScenario, openSse, sendJson, slow, startFakeServer, type FakeProviderServer, type RecordedRequest, type Scenario } from "./fake-server";

const CREATED = 1_700_000_000;
const DIMS = 8;

export const OPENAI_FAKE_MODELS = ["gpt-4o-mini", "text-embedding-3-small", "dall-e-2"];

function openAIError(status: number, message: string): unknown {
  const [type, code] =
    status === 401 ? ["invalid_request_error", "invalid_api_key"]
    : status === 429 ? ["requests", "rate_limit_exceeded"]
    : status === 400 ? ["invalid_request_error", "invalid_value"]
    : status === 529 ? ["overloaded_error", "overloaded"]
    : ["server_error", null];
  return { error: { message, type, param: null, code } };
}

const estimate = (s: string) => Math.max(1, Math.ceil(s.length / 4));

type Json = Record<string, unknown>;

function contentText(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) return content.map((p: Json) => (p?.type === "text" ? String(p.text ?? "") : p?.type === "image_url" ? "[image]" : "")).join(" ");
  return "";
}

/** The deterministic answer: echoes the last user message. */
function answerFor(body: Json): string {
  const msgs = Array.isArray(body.messages) ? (body.messages as Json[]) : [];
  const last = [...msgs].reverse().find((m) => m.role === "user");
  const said = contentText(last?.content).slice(0, 60);
  return `You said: "${said}". This is the fake OpenAI answer.`;
}

function promptTokens(body: Json): number {
  const msgs = Array.isArray(body.messages) ? (body.messages as Json[]) : [];
  return estimate(msgs.map((m) => contentText(m.content)).join("\n"));
}

/** Cuts text into ~4 word pieces (each ends with its trailing space, so they join back exactly). */
function pieces(text: string): string[] {
  const words = text.match(/\S+\s*/g) ?? [text];
  const out: string[] = [];
  for (let i = 0; i < words.length; i += 3) out.push(words.slice(i, i + 3).join(""));
  return out;
}

function toolCallFor(body: Json): { id: string; name: string; arguments: string } | undefined {
  const tools = Array.isArray(body.tools) ? (body.tools as Json[]) : [];
  if (!tools.length || body.tool_choice === "none") return undefined;
  const fn = (tools[0].function ?? {}) as Json;
  return { id: "call_fake_0", name: String(fn.name ?? "tool"), arguments: JSON.stringify({ query: answerFor(body).slice(0, 20) }) };
}

/** Waits until what was written has left (so a following cut cannot swallow it). */
const flushed = (res: http.ServerResponse) => new Promise<void>((r) => (res.writableNeedDrain ? res.once("drain", () => setTimeout(r, 20)) : setTimeout(r, 20)));

/** A chat completion in OpenAI's wire format (streamed or not); other fakes with an OpenAI-compatible /v1 (Ollama's) answer with it too. */
export async function chatCompletions(req: RecordedRequest, res: http.ServerResponse, s: FakeProviderServer): Promise<void> {
  const body = (req.body ?? {}) as Json;
  const model = String(body.model ?? "gpt-4o-mini");
  const id = "chatcmpl-fake0001";
  const text = answerFor(body);
  const tool = toolCallFor(body);
  const usage: Json & { prompt_tokens: number; completion_tokens: number; total_tokens: number } = { prompt_tokens: promptTokens(body), completion_tokens: estimate(tool ? tool.arguments : text), total_tokens: 0 };
  usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
  // OpenRouter reports what the call cost it (USD) in usage.cost.
  const cost = (s as Partial<OpenAIFake>).usageCostUsd;
  if (cost !== undefined) usage.cost = cost;

  if (!body.stream) {
    if (s.scenario === "malformed") return sendJson(res, 200, `{"id":"${id}","object":"chat.completion","choices":[{"message":`);
    if (s.scenario === "cut") return cutBody(res, JSON.stringify({ id }));
    const message = tool
      ? { role: "assistant", content: null, tool_calls: [{ id: tool.id, type: "function", function: { name: tool.name, arguments: tool.arguments } }] }
      : { role: "assistant", content: text };
    return sendJson(res, 200, {
      id, object: "chat.completion", created: CREATED, model,
      choices: [{ index: 0, message, logprobs: null, finish_reason: tool ? "tool_calls" : "stop" }],
      usage,
    });
  }

  const sse = openSse(res);
  const chunk = (delta: Json, finish: string | null = null) => ({
    id, object: "chat.completion.chunk", created: CREATED, model, system_fingerprint: "fp_fake",
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
  });
  if (s.scenario === "malformed") {
    sse.send("{not json");
    sse.send("[DONE]");
    return sse.end();
  }
  sse.send(chunk({ role: "assistant", content: "" }));
  if (tool) {
    sse.send(chunk({ tool_calls: [{ index: 0, id: tool.id, type: "function", function: { name: tool.name, arguments: "" } }] }));
    const half = Math.ceil(tool.arguments.length / 2);
    for (const part of [tool.arguments.slice(0, half), tool.arguments.slice(half)]) sse.send(chunk({ tool_calls: [{ index: 0, function: { arguments: part } }] }));
  } else {
    const parts = pieces(text);
    const n = s.scenario === "cut" ? 2 : parts.length;
    for (const p of parts.slice(0, n)) sse.send(chunk({ content: p }));
    if (s.scenario === "cut") {
      await flushed(res);
      return sse.cut();
    }
  }
  sse.send(chunk({}, tool ? "tool_calls" : "stop"));
  const opts = (body.stream_options ?? {}) as Json;
  if (opts.include_usage) sse.send({ id, object: "chat.completion.chunk", created: CREATED, model, choices: [], usage });
  sse.send("[DONE]");
  sse.end();
}

/** Deterministic unit vector from a hash of the text. */
export function fakeEmbedding(text: string): number[] {
  const h = createHash("sha256").update(text).digest();
  const v = Array.from({ length: DIMS }, (_, i) => h.readInt16BE(i * 2) / 32768);
  const norm = Math.hypot(...v) || 1;
  return v.map((x) => Math.fround(x / norm));
}

function embeddings(req: RecordedRequest, res: http.ServerResponse, s: FakeProviderServer): void {
  const body = (req.body ?? {}) as Json;
  if (s.scenario === "malformed") return sendJson(res, 200, `{"object":"list","data":[{"embedding":[0.1,`);
  const inputs = Array.isArray(body.input) ? (body.input as unknown[]).map(String) : [String(body.input ?? "")];
  if (s.scenario === "cut") return cutBody(res, JSON.stringify({ object: "list", data: inputs.map((t, index) => ({ index, embedding: fakeEmbedding(t) })) }));
  const base64 = body.encoding_format === "base64";
  const tokens = inputs.reduce((a, t) => a + estimate(t), 0);
  sendJson(res, 200, {
    object: "list",
    data: inputs.map((t, index) => {
      const v = fakeEmbedding(t);
      return { object: "embedding", index, embedding: base64 ? Buffer.from(new Float32Array(v).buffer).toString("base64") : v };
    }),
    model: String(body.model ?? "text-embedding-3-small"),
    usage: { prompt_tokens: tokens, total_tokens: tokens },
  });
}

/** A PNG of the given size, coloured from the prompt and index (deterministic). */
export function fakePng(width: number, height: number, seed: string): Buffer {
  const h = createHash("sha256").update(seed).digest();
  const png = new PNG({ width, height });
  for (let i = 0; i < width * height; i++) {
    png.data[i * 4] = h[0];
    png.data[i * 4 + 1] = h[1];
    png.data[i * 4 + 2] = h[2];
    png.data[i * 4 + 3] = 255;
  }
  return PNG.sync.write(png);
}

function parseSize(size: unknown): [number, number] {
  const m = /^(\d{1,4})x(\d{1,4})$/.exec(String(size ?? ""));
  return m ? [Number(m[1]), Number(m[2])] : [1024, 1024];
}

/**
 * URLs when asked (`response_format: "url"`), when the format is left out for a DALL·E model
 * (OpenAI's documented default), or for a model named `*-url-only` (a vendor that ignores
 * `response_format`); base64 otherwise (gpt-image-* always answer base64).
 */
function answersUrl(body: Json): boolean {
  const model = String(body.model ?? "");
  if (model.endsWith("-url-only")) return true;
  if (/^gpt-image/.test(model)) return false;
  return body.response_format === "url" || (body.response_format === undefined && /^dall-e/.test(model));
}

function images(req: RecordedRequest, res: http.ServerResponse, s: FakeProviderServer): void {
  const body = (req.body ?? {}) as Json;
  if (s.scenario === "malformed") return sendJson(res, 200, `{"created":${CREATED},"data":[{"b64_json":"iVBOR`);
  const [w, h] = parseSize(body.size);
  const n = Math.max(1, Math.min(10, Number(body.n ?? 1) || 1));
  const prompt = String(body.prompt ?? "");
  if (s.scenario === "cut") return cutBody(res, JSON.stringify({ created: CREATED, data: [{ b64_json: fakePng(w, h, prompt).toString("base64") }] }));
  const data = Array.from({ length: n }, (_, i) =>
    answersUrl(body)
      ? { url: `${s.url}/v1/files/image-${i}.png?w=${w}&h=${h}&seed=${encodeURIComponent(`${prompt}#${i}`)}`, revised_prompt: prompt }
      : { b64_json: fakePng(w, h, `${prompt}#${i}`).toString("base64"), revised_prompt: prompt },
  );
  sendJson(res, 200, { created: CREATED, data });
}

function file(req: RecordedRequest, res: http.ServerResponse): void {
  const u = new URL(req.path, "http://fake");
  const png = fakePng(Number(u.searchParams.get("w") ?? 16), Number(u.searchParams.get("h") ?? 16), u.searchParams.get("seed") ?? "");
  res.writeHead(200, { "content-type": "image/png", "content-length": String(png.length) });
  res.end(png);
}

function models(res: http.ServerResponse, s: FakeProviderServer): void {
  if (s.scenario === "malformed") return sendJson(res, 200, `{"object":"list","data":[`);
  const extra = (s as Partial<OpenAIFake>).extraModels ?? [];
  sendJson(res, 200, { object: "list", data: [...OPENAI_FAKE_MODELS.map((id) => ({ id, object: "model", created: CREATED, owned_by: "fake" })), ...extra] });
}

/** Announces the whole body, sends half of it, then drops the connection. */
function cutBody(res: http.ServerResponse, full: string): void {
  const bytes = Buffer.from(full);
  res.writeHead(200, { "content-type": "application/json", "content-length": String(bytes.length) });
  res.write(bytes.subarray(0, Math.floor(bytes.length / 2)), () => setTimeout(() => res.socket?.destroy(), 20));
}

/**
 * The OpenAI fake with per-key behaviour for key-pool tests (all optional; the defaults keep
 * the plain global-scenario behaviour):
 * - `scenarioForKey`: bearer token → scenario, overriding `scenario` for requests with that key;
 * - `latencyMs`: every API answer (not files) waits this long first (a client abort ends the wait);
 * - `inFlight` / `maxInFlight`: API requests being answered now / the most at once (overall and per key);
 * - `extraModels`: more GET /v1/models entries, as given (OpenRouter's shape: pricing, context_length, top_provider …);
 * - `usageCostUsd`: chat answers report `usage.cost` (OpenRouter's own charge, USD).
 */
export interface OpenAIFake extends FakeProviderServer {
  scenarioForKey: Record<string, Scenario>;
  latencyMs: number;
  inFlight: number;
  maxInFlight: number;
  maxInFlightByKey: Record<string, number>;
  extraModels: Json[];
  usageCostUsd?: number;
}

/** The bearer token a request carried (undefined without one). */
export function bearerOf(req: RecordedRequest): string | undefined {
  const h = req.headers.authorization;
  const v = Array.isArray(h) ? h[0] : h;
  return v?.startsWith("Bearer ") ? v.slice(7) : undefined;
}

export async function startOpenAIFake(): Promise<OpenAIFake> {
  const inFlightByKey: Record<string, number> = {};
  let fake!: OpenAIFake;
  const base = await startFakeServer(async (req, res, server) => {
    const path = req.path.split("?")[0];
    // The Batch API (files, batches, file contents): openai-batch.fake.ts.
    if (await answerOpenAIBatchApi(req, res, server)) return;
    // Files are the vendor's CDN: they do not follow the API scenarios.
    if (req.method === "GET" && path.startsWith("/v1/files/")) return file(req, res);
    const key = bearerOf(req) ?? "";
    fake.inFlight++;
    fake.maxInFlight = Math.max(fake.maxInFlight, fake.inFlight);
    inFlightByKey[key] = (inFlightByKey[key] ?? 0) + 1;
    fake.maxInFlightByKey[key] = Math.max(fake.maxInFlightByKey[key] ?? 0, inFlightByKey[key]);
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      fake.inFlight--;
      inFlightByKey[key]--;
    };
    res.once("close", end);
    res.once("finish", end);
    if (fake.latencyMs > 0) {
      await new Promise<void>((r) => {
        const t = setTimeout(r, fake.latencyMs);
        res.once("close", () => (clearTimeout(t), r()));
      });
      if (res.destroyed || res.writableEnded) return;
    }
    // Moderation follows its own scenario (moderation.fake.ts), so a test can take it down alone.
    if (req.method === "POST" && path === "/v1/moderations") return answerModeration(req, res, server);
    const forKey = fake.scenarioForKey[key];
    // The scenario this request gets: the key's own, else the server-wide one.
    const s: FakeProviderServer = forKey ? { ...server, scenario: forKey } : server;
    if (answerErrorScenario(s, res, openAIError)) return;
    const route = () => {
      if (req.method === "POST" && path === "/v1/chat/completions") return chatCompletions(req, res, s);
      if (req.method === "POST" && path === "/v1/embeddings") return embeddings(req, res, s);
      if (req.method === "POST" && path === "/v1/images/generations") return images(req, res, s);
      if (req.method === "GET" && path === "/v1/models") return models(res, s);
      sendJson(res, 404, openAIError(404, `Unknown request URL: ${req.method} ${path}`));
    };
    if (s.scenario === "slow") return slow(res, () => void route());
    await route();
  });
  fake = Object.assign(base, { scenarioForKey: {}, latencyMs: 0, inFlight: 0, maxInFlight: 0, maxInFlightByKey: {}, extraModels: [] as Json[] });
  return fake;
}
