/**
 * OpenAI's Batch API on the OpenAI fake (mounted by openai.fake.ts), in its documented wire format:
 * - POST /v1/files: multipart/form-data with `purpose` and `file` (the JSONL of requests) → a File object;
 * - POST /v1/batches { input_file_id, endpoint, completion_window, metadata } → a Batch (status "validating");
 * - GET /v1/batches?limit&after → a list page of Batches, newest first (`data`, `first_id`,
 *   `last_id`, `has_more`);
 * - GET /v1/batches/:id → the Batch; each retrieval moves it on: validating → in_progress →
 *   completed (with output_file_id, and error_file_id when a line failed). While `hold` is set it
 *   stays in_progress;
 * - GET /v1/files/:id/content → the file's bytes (JSONL: `{ id, custom_id, response: { status_code,
 *   request_id, body }, error }` per line, in an order of its own — never the input order).
 * A request whose last user message contains {@link FAIL_LINE} gets a 400 line in the error file.
 */
import type http from "node:http";
import { sendJson, type FakeProviderServer, type RecordedRequest } from "./fake-server";

/** A request whose prompt contains this fails on its own line (400 invalid_request_error). */
export const FAIL_LINE = "[batch-fail]";

type Json = Record<string, any>;

export interface OpenAIBatchState {
  /** While true, batches stay in_progress (a test stops the app meanwhile). */
  hold: boolean;
  files: Map<string, { id: string; filename: string; purpose: string; content: string }>;
  batches: Map<string, Json>;
  /** The input lines of each batch, by batch id. */
  inputs: Map<string, Json[]>;
  /** GET /v1/batches/:id calls, by batch id. */
  retrievals: Map<string, number>;
  /** GET /v1/batches (list) calls. */
  lists: number;
}

const states = new WeakMap<FakeProviderServer, OpenAIBatchState>();

/** The batch state of an OpenAI fake (created on first use). */
export function openAIBatches(server: FakeProviderServer): OpenAIBatchState {
  let s = states.get(server);
  if (!s) states.set(server, (s = { hold: false, files: new Map(), batches: new Map(), inputs: new Map(), retrievals: new Map(), lists: 0 }));
  return s;
}

const now = () => Math.floor(Date.now() / 1000);
let seq = 0;
const nextId = (prefix: string) => `${prefix}_${Date.now().toString(36)}${(++seq).toString(36).padStart(4, "0")}`;

const error = (res: http.ServerResponse, status: number, message: string, param: string | null = null) =>
  sendJson(res, status, { error: { message, type: "invalid_request_error", param, code: null } });

function lastUserText(body: Json): string {
  const msgs = Array.isArray(body.messages) ? body.messages : [];
  const last = [...msgs].reverse().find((m: Json) => m.role === "user");
  const c = last?.content;
  return typeof c === "string" ? c : Array.isArray(c) ? c.map((p: Json) => p.text ?? "").join(" ") : "";
}

/** The chat.completion a batch line answers with: names the model and echoes the prompt. */
function completion(body: Json): Json {
  const said = lastUserText(body);
  const text = `Batch answer from ${body.model} to: "${said.slice(0, 80)}"`;
  const prompt = Math.max(1, Math.ceil(JSON.stringify(body.messages ?? []).length / 4));
  const completionTokens = text.split(/\s+/).length;
  return {
    id: nextId("chatcmpl"), object: "chat.completion", created: now(), model: body.model,
    choices: [{ index: 0, message: { role: "assistant", content: text, refusal: null }, logprobs: null, finish_reason: "stop" }],
    usage: { prompt_tokens: prompt, completion_tokens: completionTokens, total_tokens: prompt + completionTokens },
  };
}

function complete(st: OpenAIBatchState, b: Json): void {
  const out: string[] = [];
  const errs: string[] = [];
  // Results come back in an order of their own (reversed), as the docs warn.
  for (const line of [...(st.inputs.get(b.id) ?? [])].reverse()) {
    const request_id = nextId("req");
    if (lastUserText(line.body).includes(FAIL_LINE)) {
      errs.push(JSON.stringify({ id: nextId("batch_req"), custom_id: line.custom_id, response: { status_code: 400, request_id, body: { error: { message: "This request was refused: the prompt asked for a failure", type: "invalid_request_error", param: "messages", code: null } } }, error: null }));
    } else {
      out.push(JSON.stringify({ id: nextId("batch_req"), custom_id: line.custom_id, response: { status_code: 200, request_id, body: completion(line.body) }, error: null }));
    }
  }
  const file = (lines: string[], name: string) => {
    const id = nextId("file");
    st.files.set(id, { id, filename: name, purpose: "batch_output", content: lines.map((l) => `${l}\n`).join("") });
    return id;
  };
  Object.assign(b, {
    status: "completed", finalizing_at: now(), completed_at: now(),
    output_file_id: out.length ? file(out, `${b.id}_output.jsonl`) : null,
    error_file_id: errs.length ? file(errs, `${b.id}_error.jsonl`) : null,
    request_counts: { total: out.length + errs.length, completed: out.length, failed: errs.length },
  });
}

async function upload(req: RecordedRequest, res: http.ServerResponse, st: OpenAIBatchState): Promise<void> {
  const type = String(req.headers["content-type"] ?? "");
  if (!type.startsWith("multipart/form-data")) return error(res, 400, "Expected multipart/form-data");
  const form = await new Response(req.raw, { headers: { "content-type": type } }).formData();
  const purpose = form.get("purpose");
  const file = form.get("file");
  if (purpose !== "batch") return error(res, 400, `purpose must be "batch" here, got ${String(purpose)}`, "purpose");
  if (!file || typeof file === "string") return error(res, 400, "file is required", "file");
  const content = await file.text();
  for (const [i, line] of content.split("\n").filter((l) => l.trim()).entries()) {
    let l: Json;
    try {
      l = JSON.parse(line);
    } catch {
      return error(res, 400, `line ${i + 1} is not JSON`, "file");
    }
    if (typeof l.custom_id !== "string" || l.method !== "POST" || typeof l.url !== "string" || typeof l.body !== "object")
      return error(res, 400, `line ${i + 1} needs custom_id, method POST, url and body`, "file");
    if (l.body.stream) return error(res, 400, `line ${i + 1}: streaming is not supported in batches`, "file");
  }
  const id = nextId("file");
  st.files.set(id, { id, filename: file.name, purpose: "batch", content });
  sendJson(res, 200, { id, object: "file", bytes: Buffer.byteLength(content), created_at: now(), filename: file.name, purpose: "batch", status: "processed", status_details: null, expires_at: null });
}

function create(req: RecordedRequest, res: http.ServerResponse, st: OpenAIBatchState): void {
  const body = (req.body ?? {}) as Json;
  const file = st.files.get(body.input_file_id);
  if (!file) return error(res, 404, `No such File object: ${body.input_file_id}`, "input_file_id");
  if (body.endpoint !== "/v1/chat/completions" && body.endpoint !== "/v1/embeddings" && body.endpoint !== "/v1/responses") return error(res, 400, "unsupported endpoint", "endpoint");
  if (body.completion_window !== "24h") return error(res, 400, "completion_window must be 24h", "completion_window");
  const lines = file.content.split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l) as Json);
  if (lines.some((l) => l.url !== body.endpoint)) return error(res, 400, "every line's url must be the batch's endpoint", "input_file_id");
  const id = nextId("batch");
  const b: Json = {
    id, object: "batch", endpoint: body.endpoint, errors: null, input_file_id: file.id, completion_window: "24h", status: "validating",
    output_file_id: null, error_file_id: null, created_at: now(), in_progress_at: null, expires_at: now() + 86_400, finalizing_at: null,
    completed_at: null, failed_at: null, expired_at: null, cancelling_at: null, cancelled_at: null,
    request_counts: { total: lines.length, completed: 0, failed: 0 }, metadata: body.metadata ?? null,
  };
  st.batches.set(id, b);
  st.inputs.set(id, lines);
  sendJson(res, 200, b);
}

function retrieve(id: string, res: http.ServerResponse, st: OpenAIBatchState): void {
  const b = st.batches.get(id);
  if (!b) return error(res, 404, `No such Batch: ${id}`);
  st.retrievals.set(id, (st.retrievals.get(id) ?? 0) + 1);
  if (b.status === "validating") Object.assign(b, { status: "in_progress", in_progress_at: now() });
  else if (b.status === "in_progress" && !st.hold) complete(st, b);
  sendJson(res, 200, b);
}

/** GET /v1/batches?limit&after: newest first, cursor pagination (`after` = the last id of the previous page). */
function list(req: RecordedRequest, res: http.ServerResponse, st: OpenAIBatchState): void {
  const q = new URL(req.path, "http://fake").searchParams;
  const limit = Math.min(100, Math.max(1, Number(q.get("limit") ?? 20)));
  const all = [...st.batches.values()].reverse();
  const after = q.get("after");
  const from = after ? all.findIndex((b) => b.id === after) + 1 : 0;
  const data = all.slice(from, from + limit);
  st.lists++;
  sendJson(res, 200, { object: "list", data, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null, has_more: from + limit < all.length });
}

/** Answers the Batch API's routes; false for any other request (the chat fake answers it). */
export async function answerOpenAIBatchApi(req: RecordedRequest, res: http.ServerResponse, server: FakeProviderServer): Promise<boolean> {
  const path = req.path.split("?")[0];
  const st = openAIBatches(server);
  const content = /^\/v1\/files\/([^/]+)\/content$/.exec(path);
  if (req.method === "GET" && content) {
    const f = st.files.get(content[1]);
    if (!f) error(res, 404, `No such File object: ${content[1]}`);
    else {
      res.writeHead(200, { "content-type": "application/octet-stream" });
      res.end(f.content);
    }
    return true;
  }
  const route = req.method === "POST" && path === "/v1/files" ? "upload"
    : req.method === "POST" && path === "/v1/batches" ? "create"
    : req.method === "GET" && path === "/v1/batches" ? "list"
    : req.method === "GET" && /^\/v1\/batches\/[^/]+$/.test(path) ? "retrieve" : undefined;
  if (!route) return false;
  if (!String(req.headers.authorization ?? "").startsWith("Bearer ")) {
    sendJson(res, 401, { error: { message: "You didn't provide an API key.", type: "invalid_request_error", param: null, code: null } });
    return true;
  }
  if (route === "upload") await upload(req, res, st);
  else if (route === "create") create(req, res, st);
  else if (route === "list") list(req, res, st);
  else retrieve(path.slice("/v1/batches/".length), res, st);
  return true;
}
