/**
 * The OpenAI Responses API onto generations (source OPENAI):
 * - POST /v1/responses: waits for the answer (a Response object), streams it (`stream: true`), or
 *   with `background: true` answers at once (queued) while the generation runs async.
 * - GET /v1/responses/{id}: the Response as it is now; `?stream=true&starting_after=N` streams it
 *   from after sequence number N (a dropped stream resumes with nothing missed or repeated).
 * - POST /v1/responses/{id}/cancel: GenerationService.cancel.
 * A stream is the generation's events (subscribe, then its stream log and row: the GraphQL
 * subscription's order, so nothing published meanwhile is lost) mapped by responses-stream.ts.
 */
import { BadUserInputError } from "../../../common/errors";
import { createPushIterator } from "../../../common/push-iterator";
import { fromEventView, TERMINAL_EVENT_TYPES, type GenerationEventPayload } from "../../../realtime/generation-event";
import { Topic } from "../../../realtime/topics";
import { sendJson } from "../../http-utils";
import { readJsonBody } from "../body";
import { openEventStream } from "../event-stream";
import { errorBody, fromGeneration, fromThrown, sendV1Error, type V1Error } from "../errors";
import { SHUTDOWN_ERROR } from "../open-streams";
import { cancelWhenClientLeaves } from "../client-gone";
import { attemptsOf, runToTerminal, startGeneration, withWholeOutput, type V1Command } from "../generation-call";
import { responseHeaders, switchboardOptions } from "../headers";
import type { V1Request, V1Route } from "../route";
import { generationIdOf, responseObject } from "./responses-object";
import { parseResponsesRequest } from "./responses-request";
import { replayFromLog, ResponsesStreamMapper, type ResponseStreamEvent } from "./responses-stream";

/** An SSE comment this often keeps proxies from closing a stream that waits (a queued generation). */
const KEEPALIVE_MS = 15_000;

/**
 * The stream's events after sequence number `after` (-1: all), ending after the terminal one.
 * Subscribes first, then reads the stream log and the row, so an event published meanwhile is
 * either in the log or delivered live (the live copy is skipped by seq).
 */
async function* responseEvents(r: V1Request, id: string, after: number, background: boolean | null): AsyncGenerator<ResponseStreamEvent> {
  const bus = r.services.bus;
  let unsubscribe: () => void = () => undefined;
  const live = createPushIterator<GenerationEventPayload>(() => unsubscribe());
  // A client gone while we wait for the next event: ending `live` wakes the wait (a generator's return() would not).
  r.res.once("close", () => live.end());
  unsubscribe = await bus.subscribe(Topic.GENERATION_EVENT, id, (ev) => live.push(ev));
  if (r.res.destroyed) return void unsubscribe(); // it left while we subscribed (live's cleanup ran before)
  try {
    const { seq, text, log } = await bus.readStreamLog(id);
    const g = await r.services.generations.get(r.viewer, id);
    const m = new ResponsesStreamMapper(id, background);
    for (const input of replayFromLog(log, text, g, after)) yield* m.map(input).filter((e) => e.sequence_number > after);
    let last = seq;
    while (!m.done) {
      const { value: ev, done } = await live.next();
      if (done) return;
      if (ev.seq <= last) continue;
      last = ev.seq;
      // The terminal state with its whole output (tool calls, finish reason: in this version's view; an older one's is read again).
      const generation = TERMINAL_EVENT_TYPES.has(ev.type) ? await withWholeOutput(r.services, r.viewer, fromEventView(ev.generation)) : fromEventView(ev.generation);
      yield* m.map({ seq: ev.seq, type: ev.type, delta: ev.delta, generation }).filter((e) => e.sequence_number > after);
    }
  } finally {
    live.end();
  }
}

/** Writes the events as SSE (`event: <type>` + `data: <json>`), bounded like every stream; an internal failure ends with OpenAI's `error` event. */
async function writeStream(r: V1Request, id: string, after: number, background: boolean | null, headers: Record<string, string>): Promise<void> {
  const { res } = r;
  const events = responseEvents(r, id, after, background);
  openEventStream(res, headers);
  const keepalive = setInterval(() => !res.destroyed && res.write(": keepalive\n\n"), KEEPALIVE_MS);
  res.once("close", () => void events.return(undefined));
  let lastSeq = after;
  const errorEvent = (e: V1Error) => {
    const { error } = errorBody("openai", e) as { error: { code: string; message: string; param: string | null } };
    // OpenAI's ResponseErrorEvent: type "error" (not the error body's own type), code, message, param.
    res.write(`event: error\ndata: ${JSON.stringify({ type: "error", code: error.code, message: error.message, param: error.param, sequence_number: lastSeq + 1 })}\n\n`);
  };
  // Shutdown: an `error` event, never response.completed (a background one can be resumed elsewhere with starting_after).
  const unregister = r.streams.add(() => {
    if (!res.writableEnded) errorEvent(SHUTDOWN_ERROR), res.end();
    void events.return(undefined);
  });
  try {
    for await (const ev of events) {
      if (res.destroyed || res.writableEnded) break;
      lastSeq = ev.sequence_number;
      res.write(`event: ${ev.type}\ndata: ${JSON.stringify(ev)}\n\n`);
      if (res.writableLength > r.config.limits.wsMaxBufferedBytes) {
        r.log.warn({ buffered: res.writableLength, generationId: id }, "closing a /v1/responses stream that does not read (slow consumer)");
        res.destroy();
        break;
      }
    }
  } catch (err) {
    const e = fromThrown(err, r.config.env === "production");
    if (e.code === "INTERNAL_SERVER_ERROR") r.log.error({ err, generationId: id }, "v1 responses stream failed");
    if (!res.destroyed && !res.writableEnded) errorEvent(e);
  } finally {
    unregister();
    clearInterval(keepalive);
    await events.return(undefined);
    if (!res.destroyed && !res.writableEnded) res.end();
  }
}

/** `switchboard.params`: provider params passed through (e.g. the simulated provider's `simulate`); the rest are the shared options. */
function commandOf(r: V1Request, body: Record<string, unknown>, cmd: V1Command): V1Command {
  const sb = body.switchboard;
  let params: unknown;
  let rest = sb;
  if (sb && typeof sb === "object" && !Array.isArray(sb) && "params" in sb) {
    ({ params, ...rest } = sb as Record<string, unknown>);
    if (params != null && (typeof params !== "object" || Array.isArray(params))) throw new BadUserInputError("switchboard.params must be an object", { field: "switchboard.params" });
  }
  const options = switchboardOptions(r.req, { ...body, switchboard: rest });
  const merged = { ...(cmd.params as Record<string, unknown> | undefined), ...(params as Record<string, unknown> | undefined) };
  return { ...cmd, ...options, ...(Object.keys(merged).length ? { params: merged } : {}) };
}

async function create(r: V1Request): Promise<void> {
  const body = await readJsonBody(r.req, r.config.http.bodyLimitBytes);
  const { cmd, stream, background } = parseResponsesRequest(body);
  const command = commandOf(r, body, cmd);
  if (stream || background) {
    // Stored on the row, so a retrieved response says whether it is a background one.
    // A background response outlives its request; a streamed one is cancelled when its client leaves.
    const gen = await startGeneration(r.services, r.viewer, "OPENAI", { ...command, background }, background ? undefined : cancelWhenClientLeaves(r));
    if (stream) return writeStream(r, gen.id, -1, background, responseHeaders(gen));
    return sendJson(r.res, 200, responseObject(gen, true), responseHeaders(gen));
  }
  const done = await runToTerminal(r.services, r.viewer, "OPENAI", command, cancelWhenClientLeaves(r));
  const headers = responseHeaders(done, await attemptsOf(r.services, done));
  if (done.status !== "SUCCEEDED") return sendV1Error(r.res, "openai", fromGeneration(done), headers);
  // An in-process run's answer is the row; a queued run's, the terminal event's view: both with the whole output.
  const full = await withWholeOutput(r.services, r.viewer, done);
  sendJson(r.res, 200, responseObject(full, false), headers);
}

function startingAfter(q: URLSearchParams): number {
  const v = q.get("starting_after");
  if (v == null || v === "") return -1;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new BadUserInputError("starting_after must be a whole number (a sequence_number from the stream)", { field: "starting_after" });
  return n;
}

async function retrieve(r: V1Request): Promise<void> {
  const g = await r.services.generations.get(r.viewer, generationIdOf(r.params[0]));
  const stream = r.query.get("stream");
  if (stream === "true") return writeStream(r, g.id, startingAfter(r.query), g.background === true, responseHeaders(g));
  if (stream != null && stream !== "false") throw new BadUserInputError("stream must be true or false", { field: "stream" });
  sendJson(r.res, 200, responseObject(g, g.background === true), responseHeaders(g));
}

async function cancel(r: V1Request): Promise<void> {
  const g = await r.services.generations.cancel(r.viewer, generationIdOf(r.params[0]));
  sendJson(r.res, 200, responseObject(g, g.background === true), responseHeaders(g));
}

export const RESPONSES_ROUTES: V1Route[] = [
  { method: "POST", path: "/v1/responses", api: "openai", handle: create },
  { method: "GET", path: /^\/v1\/responses\/([^/]+)$/, api: "openai", handle: retrieve },
  { method: "POST", path: /^\/v1\/responses\/([^/]+)\/cancel$/, api: "openai", handle: cancel },
];
