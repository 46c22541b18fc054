/**
 * Anthropic's Message Batches on the Anthropic fake (mounted by anthropic.fake.ts), in the
 * documented wire format:
 * - POST /v1/messages/batches { requests: [{ custom_id, params }] } → a MessageBatch
 *   (processing_status "in_progress", request_counts.processing = n, results_url null);
 * - GET /v1/messages/batches?limit&after_id&before_id → a page of MessageBatches, newest first
 *   (`data`, `has_more`, `first_id`, `last_id`);
 * - GET /v1/messages/batches/:id → the MessageBatch; the second retrieval finds it "ended"
 *   (ended_at, request_counts, results_url), unless `hold` is set;
 * - GET <results_url> (/v1/messages/batches/:id/results) → JSONL, one
 *   `{ custom_id, result: { type: "succeeded", message } | { type: "errored", error } }` per request,
 *   in an order of its own.
 * A request whose last user message contains FAIL_LINE (openai-batch.fake.ts) gets an errored line.
 */
import type http from "node:http";
import { sendJson, type FakeProviderServer, type RecordedRequest } from "./fake-server";
import { FAIL_LINE } from "./openai-batch.fake";

type Json = Record<string, any>;

export interface AnthropicBatchState {
  /** While true, batches stay in_progress. */
  hold: boolean;
  batches: Map<string, Json>;
  requests: Map<string, Json[]>;
  retrievals: Map<string, number>;
  /** GET /v1/messages/batches (list) calls. */
  lists: number;
}

const states = new WeakMap<FakeProviderServer, AnthropicBatchState>();

export function anthropicBatches(server: FakeProviderServer): AnthropicBatchState {
  let s = states.get(server);
  if (!s) states.set(server, (s = { hold: false, batches: new Map(), requests: new Map(), retrievals: new Map(), lists: 0 }));
  return s;
}

let seq = 0;
const iso = (ms = Date.now()) => new Date(ms).toISOString();
const error = (res: http.ServerResponse, status: number, type: string, message: string) =>
  sendJson(res, status, { type: "error", error: { type, message } }, { "request-id": "req_fake_batch" });

function lastUserText(params: Json): string {
  const last = [...(Array.isArray(params.messages) ? params.messages : [])].reverse().find((m: Json) => m.role === "user");
  const c = last?.content;
  return typeof c === "string" ? c : Array.isArray(c) ? c.map((b: Json) => b.text ?? "").join(" ") : "";
}

function message(params: Json): Json {
  const text = `Batch answer from ${params.model} to: "${lastUserText(params).slice(0, 80)}"`;
  return {
    id: `msg_batch_${++seq}`, type: "message", role: "assistant", model: params.model,
    content: [{ type: "text", text, citations: null }], stop_reason: "end_turn", stop_sequence: null,
    usage: { input_tokens: Math.max(1, Math.ceil(JSON.stringify(params.messages ?? "").length / 4)), output_tokens: text.split(/\s+/).length, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, service_tier: "batch" },
  };
}

function counts(st: AnthropicBatchState, id: string, ended: boolean): Json {
  const reqs = st.requests.get(id) ?? [];
  const errored = ended ? reqs.filter((r) => lastUserText(r.params).includes(FAIL_LINE)).length : 0;
  return { processing: ended ? 0 : reqs.length, succeeded: ended ? reqs.length - errored : 0, errored, canceled: 0, expired: 0 };
}

function create(rec: RecordedRequest, res: http.ServerResponse, st: AnthropicBatchState): void {
  const requests = (rec.body as Json | undefined)?.requests;
  if (!Array.isArray(requests) || requests.length === 0) return error(res, 400, "invalid_request_error", "requests: must be a non-empty list");
  const ids = new Set<string>();
  for (const [i, r] of requests.entries()) {
    if (typeof r?.custom_id !== "string" || !/^[a-zA-Z0-9_-]{1,64}$/.test(r.custom_id)) return error(res, 400, "invalid_request_error", `requests.${i}.custom_id: must match ^[a-zA-Z0-9_-]{1,64}$`);
    if (ids.has(r.custom_id)) return error(res, 400, "invalid_request_error", `requests.${i}.custom_id: duplicate`);
    ids.add(r.custom_id);
    if (!r.params?.model || typeof r.params.max_tokens !== "number" || !Array.isArray(r.params.messages)) return error(res, 400, "invalid_request_error", `requests.${i}.params: model, max_tokens and messages are required`);
    if (r.params.stream) return error(res, 400, "invalid_request_error", `requests.${i}.params.stream: not supported in batches`);
  }
  const id = `msgbatch_${Date.now().toString(36)}${++seq}`;
  const b: Json = {
    id, type: "message_batch", processing_status: "in_progress", request_counts: {}, ended_at: null, created_at: iso(),
    expires_at: iso(Date.now() + 86_400_000), archived_at: null, cancel_initiated_at: null, results_url: null,
  };
  st.batches.set(id, b);
  st.requests.set(id, requests);
  b.request_counts = counts(st, id, false);
  sendJson(res, 200, b);
}

function retrieve(id: string, res: http.ServerResponse, st: AnthropicBatchState, base: string): void {
  const b = st.batches.get(id);
  if (!b) return error(res, 404, "not_found_error", `message batch ${id} not found`);
  const n = (st.retrievals.get(id) ?? 0) + 1;
  st.retrievals.set(id, n);
  if (b.processing_status === "in_progress" && n >= 2 && !st.hold)
    Object.assign(b, { processing_status: "ended", ended_at: iso(), request_counts: counts(st, id, true), results_url: `${base}/v1/messages/batches/${id}/results` });
  sendJson(res, 200, b);
}

function results(id: string, res: http.ServerResponse, st: AnthropicBatchState): void {
  const b = st.batches.get(id);
  if (!b) return error(res, 404, "not_found_error", `message batch ${id} not found`);
  if (b.processing_status !== "ended") return error(res, 400, "invalid_request_error", `message batch ${id} has not ended`);
  const lines = [...(st.requests.get(id) ?? [])].reverse().map((r) =>
    lastUserText(r.params).includes(FAIL_LINE)
      ? { custom_id: r.custom_id, result: { type: "errored", error: { type: "error", error: { type: "invalid_request_error", message: "messages: the prompt asked for a failure" } } } }
      : { custom_id: r.custom_id, result: { type: "succeeded", message: message(r.params) } });
  res.writeHead(200, { "content-type": "application/binary" });
  res.end(lines.map((l) => `${JSON.stringify(l)}\n`).join(""));
}

/** GET /v1/messages/batches?limit&after_id&before_id: newest first; after_id pages to older batches, before_id to newer. */
function list(rec: RecordedRequest, res: http.ServerResponse, st: AnthropicBatchState): void {
  const q = new URL(rec.path, "http://fake").searchParams;
  const limit = Math.min(1000, Math.max(1, Number(q.get("limit") ?? 20)));
  const all = [...st.batches.values()].reverse();
  const after = q.get("after_id");
  const before = q.get("before_id");
  let data: Json[];
  let more: boolean;
  if (before) {
    const end = all.findIndex((b) => b.id === before);
    data = all.slice(Math.max(0, end - limit), Math.max(0, end));
    more = end - limit > 0;
  } else {
    const from = after ? all.findIndex((b) => b.id === after) + 1 : 0;
    data = all.slice(from, from + limit);
    more = from + limit < all.length;
  }
  st.lists++;
  sendJson(res, 200, { data, has_more: more, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null });
}

/** Answers the Message Batches routes; false for any other request. */
export function answerAnthropicBatchApi(rec: RecordedRequest, res: http.ServerResponse, server: FakeProviderServer): boolean {
  const path = rec.path.split("?")[0];
  if (!path.startsWith("/v1/messages/batches")) return false;
  if (!rec.headers["x-api-key"]) {
    error(res, 401, "authentication_error", "x-api-key header is required");
    return true;
  }
  if (!rec.headers["anthropic-version"]) {
    error(res, 400, "invalid_request_error", "anthropic-version: header is required");
    return true;
  }
  const st = anthropicBatches(server);
  const one = /^\/v1\/messages\/batches\/([^/]+)(\/results)?$/.exec(path);
  if (rec.method === "POST" && path === "/v1/messages/batches") create(rec, res, st);
  else if (rec.method === "GET" && path === "/v1/messages/batches") list(rec, res, st);
  else if (rec.method === "GET" && one && one[2]) results(one[1], res, st);
  else if (rec.method === "GET" && one) retrieve(one[1], res, st, server.url);
  else error(res, 404, "not_found_error", `no route for ${rec.method} ${path}`);
  return true;
}
