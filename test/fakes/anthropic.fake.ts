/**
 * A fake Anthropic API speaking the documented Messages wire format:
 * - POST /v1/messages: with `"stream": true` server-sent events with `event:` names
 *   (message_start, content_block_start, content_block_delta [text_delta | input_json_delta],
 *   content_block_stop, message_delta [stop_reason, usage.output_tokens], message_stop, plus a
 *   ping); without it one Message JSON.
 * - GET /v1/models: one page of models.
 * - Message Batches (POST /v1/messages/batches, GET …/:id, GET …/:id/results): anthropic-batch.fake.ts.
 * Errors are `{ type: "error", error: { type, message } }` with Anthropic's error types.
 * Like API version 2026-10-21 (what the SDK sends), it answers 400 to temperature/top_p/top_k.
 * A request that carries `tools` gets a tool_use block after the text (stop_reason tool_use).
 *
 * Scenarios: ok, 400, 401, 429 (retry-after), 500, 503, 529 (overloaded_error), malformed,
 * cut (two deltas, then the socket is destroyed), slow, plus `overloaded_midstream` set through
 * `fake.midStreamError = "overloaded_error"` (an `event: error` after two deltas).
 */
import type http from "node:http";
import { answerAnthropicBatchApi } from "./anthropic-batch.fake";
import { answerErrorScenario, openSse, sendJson, slow, startFakeServer, type FakeProviderServer, type RecordedRequest } from "./fake-server";

export const ANTHROPIC_FAKE_TEXT = "Hello from the fake Claude. The answer streams in several pieces.";
export const ANTHROPIC_FAKE_MODELS = ["claude-sonnet-4-5", "claude-haiku-4-5"];

export interface AnthropicFake extends FakeProviderServer {
  /** When set, an ok stream sends two deltas and then `event: error` of this type (e.g. "overloaded_error"). */
  midStreamError?: string;
}

const ERROR_TYPES: Record<number, string> = {
  400: "invalid_request_error",
  401: "authentication_error",
  403: "permission_error",
  404: "not_found_error",
  413: "request_too_large",
  429: "rate_limit_error",
  500: "api_error",
  503: "api_error",
  504: "timeout_error",
  529: "overloaded_error",
};

const errorBody = (status: number, message: string) => ({ type: "error", error: { type: ERROR_TYPES[status] ?? "api_error", message } });

const sendError = (res: http.ServerResponse, status: number, message: string) => sendJson(res, status, errorBody(status, message), { "request-id": "req_fake" });

function chunks(text: string): string[] {
  return text.match(/\S+\s*/g) ?? [text];
}

function inputTokens(body: Record<string, unknown>): number {
  return Math.max(1, Math.ceil(JSON.stringify(body.messages ?? "").length / 4));
}

function messageJson(model: string, text: string, input: number, tool?: { id: string; name: string; input: unknown }) {
  return {
    id: "msg_fake_01",
    type: "message",
    role: "assistant",
    model,
    content: [{ type: "text", text, citations: null }, ...(tool ? [{ type: "tool_use", id: tool.id, name: tool.name, input: tool.input, caller: { type: "direct" } }] : [])],
    stop_reason: tool ? "tool_use" : "end_turn",
    stop_sequence: null,
    stop_details: null,
    container: null,
    usage: { input_tokens: input, output_tokens: chunks(text).length, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, cache_creation: null, inference_geo: null, output_tokens_details: null, server_tool_use: null, service_tier: "standard", speed: null },
  };
}

/** Validates what Anthropic validates first; answers and returns false when the request is refused. */
function validate(rec: RecordedRequest, res: http.ServerResponse): boolean {
  const h = rec.headers;
  if (!h["x-api-key"] && !h.authorization) {
    sendError(res, 401, "x-api-key header is required");
    return false;
  }
  if (!h["anthropic-version"]) {
    sendError(res, 400, "anthropic-version: header is required");
    return false;
  }
  return true;
}

function validateMessages(body: Record<string, unknown>, version: string): string | undefined {
  if (typeof body.model !== "string" || !body.model) return "model: Field required";
  if (typeof body.max_tokens !== "number" || !Number.isInteger(body.max_tokens) || body.max_tokens < 0) return "max_tokens: Field required";
  if (!Array.isArray(body.messages) || body.messages.length === 0) return "messages: at least one message is required";
  if (version >= "2026-10-21") for (const k of ["temperature", "top_p", "top_k"]) if (k in body) return `${k}: Extra inputs are not permitted`;
  for (const [i, m] of (body.messages as { role?: unknown; content?: unknown }[]).entries()) {
    if (m.role !== "user" && m.role !== "assistant" && m.role !== "system") return `messages.${i}.role: Input should be 'user', 'assistant' or 'system'`;
    if (typeof m.content !== "string" && !Array.isArray(m.content)) return `messages.${i}.content: Field required`;
  }
  if (body.tools !== undefined) {
    if (!Array.isArray(body.tools)) return "tools: Input should be a valid list";
    for (const [i, t] of (body.tools as { name?: unknown; input_schema?: unknown }[]).entries()) {
      if (typeof t.name !== "string" || typeof t.input_schema !== "object") return `tools.${i}: name and input_schema are required`;
    }
  }
  return undefined;
}

function streamMessage(res: http.ServerResponse, fake: AnthropicFake, body: Record<string, unknown>, cut: boolean): void {
  const sse = openSse(res);
  const model = String(body.model);
  const input = inputTokens(body);
  const pieces = chunks(ANTHROPIC_FAKE_TEXT);
  const tools = Array.isArray(body.tools) ? (body.tools as { name: string }[]) : [];
  sse.send({ type: "message_start", message: { ...messageJson(model, "", input), content: [], stop_reason: null, usage: { input_tokens: input, output_tokens: 1, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 } } }, "message_start");
  sse.send({ type: "content_block_start", index: 0, content_block: { type: "text", text: "", citations: null } }, "content_block_start");
  sse.send({ type: "ping" }, "ping");
  const breakAfter = cut || fake.midStreamError ? 2 : pieces.length;
  for (const piece of pieces.slice(0, breakAfter)) sse.send({ type: "content_block_delta", index: 0, delta: { type: "text_delta", text: piece } }, "content_block_delta");
  if (cut) {
    // Let the deltas reach the client, then drop the connection (no message_stop).
    setTimeout(() => sse.cut(), 30);
    return;
  }
  if (fake.midStreamError) {
    sse.send({ type: "error", error: { type: fake.midStreamError, message: "Overloaded" } }, "error");
    sse.end();
    return;
  }
  sse.send({ type: "content_block_stop", index: 0 }, "content_block_stop");
  if (tools.length) {
    const json = JSON.stringify({ city: "Paris", unit: "celsius" });
    sse.send({ type: "content_block_start", index: 1, content_block: { type: "tool_use", id: "toolu_fake_01", name: tools[0].name, input: {}, caller: { type: "direct" } } }, "content_block_start");
    sse.send({ type: "content_block_delta", index: 1, delta: { type: "input_json_delta", partial_json: json.slice(0, 10) } }, "content_block_delta");
    sse.send({ type: "content_block_delta", index: 1, delta: { type: "input_json_delta", partial_json: json.slice(10) } }, "content_block_delta");
    sse.send({ type: "content_block_stop", index: 1 }, "content_block_stop");
  }
  sse.send(
    {
      type: "message_delta",
      delta: { stop_reason: tools.length ? "tool_use" : "end_turn", stop_sequence: null, stop_details: null, container: null },
      usage: { output_tokens: pieces.length, input_tokens: null, cache_creation_input_tokens: null, cache_read_input_tokens: null, output_tokens_details: null, server_tool_use: null },
    },
    "message_delta",
  );
  sse.send({ type: "message_stop" }, "message_stop");
  sse.end();
}

function answerMessages(rec: RecordedRequest, res: http.ServerResponse, fake: AnthropicFake): void {
  const body = (rec.body && typeof rec.body === "object" ? rec.body : {}) as Record<string, unknown>;
  const version = String(rec.headers["anthropic-version"] ?? "");
  const problem = typeof rec.body === "object" ? validateMessages(body, version) : "the body is not JSON";
  if (problem) return sendError(res, 400, problem);
  const stream = body.stream === true;
  if (fake.scenario === "malformed") {
    if (!stream) return sendJson(res, 200, '{"id": "msg_fake_01", "type": "message", "content": [');
    const sse = openSse(res);
    res.write('event: message_start\ndata: {"type": "message_start", "message": {"id": \n\n');
    sse.end();
    return;
  }
  if (!stream) {
    const tools = Array.isArray(body.tools) ? (body.tools as { name: string }[]) : [];
    const tool = tools.length ? { id: "toolu_fake_01", name: tools[0].name, input: { city: "Paris", unit: "celsius" } } : undefined;
    return sendJson(res, 200, messageJson(String(body.model), ANTHROPIC_FAKE_TEXT, inputTokens(body), tool), { "request-id": "req_fake" });
  }
  streamMessage(res, fake, body, fake.scenario === "cut");
}

function answerModels(res: http.ServerResponse): void {
  const data = ANTHROPIC_FAKE_MODELS.map((id, i) => ({ type: "model", id, display_name: id, created_at: `2026-0${i + 1}-01T00:00:00Z` }));
  sendJson(res, 200, { data, has_more: false, first_id: data[0].id, last_id: data[data.length - 1].id });
}

export async function startAnthropicFake(): Promise<AnthropicFake> {
  return (await startFakeServer((rec, res, server) => {
    const fake = server as AnthropicFake;
    const path = rec.path.split("?")[0];
    // Message Batches: anthropic-batch.fake.ts.
    if (answerAnthropicBatchApi(rec, res, server)) return;
    const route = rec.method === "POST" && path === "/v1/messages" ? "messages" : rec.method === "GET" && path === "/v1/models" ? "models" : undefined;
    if (!route) return sendError(res, 404, `no route for ${rec.method} ${path}`);
    const answer = () => {
      if (answerErrorScenario(fake, res, errorBody)) return;
      if (!validate(rec, res)) return;
      if (route === "models") return answerModels(res);
      answerMessages(rec, res, fake);
    };
    if (fake.scenario === "slow") return slow(res, answer);
    answer();
  })) as AnthropicFake;
}
