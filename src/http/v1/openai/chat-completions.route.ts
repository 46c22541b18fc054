/**
 * POST /v1/chat/completions: OpenAI's chat completions onto a Generation (source OPENAI).
 * Non-streaming waits for the terminal state and answers `chat.completion`; `stream: true`
 * answers SSE `chat.completion.chunk`s from the generation's events, `data: [DONE]` only after
 * SUCCEEDED. A generation that fails mid-stream (after every fallback) ends the stream with
 * `data: {"error":{…}}` and no [DONE]. RESTARTED handling: chat-completions.stream-text.ts.
 */
import type { ServerResponse } from "node:http";
import { sendJson } from "../../http-utils";
import { readJsonBody } from "../body";
import { errorBody, fromGeneration, sendV1Error } from "../errors";
import { openEventStream } from "../event-stream";
import { SHUTDOWN_ERROR } from "../open-streams";
import { cancelWhenClientLeaves } from "../client-gone";
import { attemptsOf, runToTerminal, startAndFollow, withWholeOutput } from "../generation-call";
import { fromEventView } from "../../../realtime/generation-event";
import { responseHeaders, servedModel, switchboardOptions } from "../headers";
import type { V1Request, V1Route } from "../route";
import { toChatCommand, type ChatRequest } from "./chat-completions.request";
import { chatCompletion, chunk, finishReason, toolCalls, usage } from "./chat-completions.response";
import { StreamText } from "./chat-completions.stream-text";

async function handle(r: V1Request): Promise<void> {
  const body = await readJsonBody(r.req, r.config.http.bodyLimitBytes);
  const chat = toChatCommand(body, switchboardOptions(r.req, body));
  if (chat.stream) return stream(r, chat);
  // A client that leaves before the answer cancels its generation (every /v1 request but a background response).
  const g = await runToTerminal(r.services, r.viewer, "OPENAI", chat.command, cancelWhenClientLeaves(r));
  // An in-process run's answer is the row its transition returned, a queued run's the terminal event's view: both carry
  // the whole output (tool calls, finish reason), so nothing is read again.
  const [full, attempts] = await Promise.all([g.status === "SUCCEEDED" ? withWholeOutput(r.services, r.viewer, g) : g, attemptsOf(r.services, g)]);
  const headers = responseHeaders(full, attempts);
  if (full.status !== "SUCCEEDED") return sendV1Error(r.res, "openai", fromGeneration(full), headers);
  sendJson(r.res, 200, chatCompletion({ id: full.id, createdAt: full.createdAt, model: servedModel(full), output: full.output }), headers);
}

const sse = (res: ServerResponse, data: unknown) => void res.write(`data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`);

async function stream(r: V1Request, chat: ChatRequest): Promise<void> {
  const { res } = r;
  const { gen, events } = await startAndFollow(r.services, r.viewer, "OPENAI", chat.command, cancelWhenClientLeaves(r));
  openEventStream(res, responseHeaders(gen));
  res.once("close", () => void events.return?.(undefined));
  // Shutdown: an error event, never a clean [DONE].
  const unregister = r.streams.add(() => {
    if (!res.writableEnded) sse(res, errorBody("openai", SHUTDOWN_ERROR)), res.end();
    void events.return?.(undefined);
  });
  const meta = { id: gen.id, createdAt: gen.createdAt, model: servedModel(gen) };
  const text = new StreamText();
  const send = (e: { restart: boolean; text: string }) => {
    if (e.restart) sse(res, chunk(meta, { delta: {} }, { switchboard: { restart: true } }));
    if (e.text) sse(res, chunk(meta, { delta: { content: e.text } }));
  };
  sse(res, chunk(meta, { delta: { role: "assistant", content: "" } }));
  for await (const ev of events) {
    if (res.destroyed || res.writableEnded) break;
    if (res.writableLength > r.config.limits.wsMaxBufferedBytes) {
      // A client that stopped reading: its backlog is bounded, as on the GraphQL streams.
      r.log.warn({ buffered: res.writableLength, limit: r.config.limits.wsMaxBufferedBytes }, "closing a /v1 stream that does not read (slow consumer)");
      res.destroy();
      break;
    }
    meta.model = servedModel(ev.generation);
    if (ev.type === "SNAPSHOT") send(text.snapshot(ev.text ?? ""));
    else if (ev.type === "DELTA") send(text.delta(ev.delta ?? ""));
    else if (ev.type === "RESTARTED") text.restart();
    const status = ev.generation.status;
    if (status === "SUCCEEDED") {
      const full = await withWholeOutput(r.services, r.viewer, fromEventView(ev.generation)); // its view carries tool calls and finish reason
      send(text.finish(full.output?.text ?? ""));
      const calls = toolCalls(full.output);
      if (calls) sse(res, chunk(meta, { delta: { tool_calls: calls.map((c, index) => ({ index, ...c })) } }));
      sse(res, chunk(meta, { delta: {}, finish_reason: finishReason(full.output) }));
      if (chat.includeUsage) sse(res, chunk(meta, null, { usage: usage(full.output) }));
      sse(res, "[DONE]");
      break;
    }
    if (status === "FAILED" || status === "CANCELLED") {
      sse(res, errorBody("openai", fromGeneration(ev.generation)));
      break;
    }
  }
  unregister();
  if (!res.writableEnded) res.end();
}

export const chatCompletionsRoutes: V1Route[] = [{ method: "POST", path: "/v1/chat/completions", api: "openai", handle }];
