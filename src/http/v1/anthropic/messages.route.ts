/**
 * POST /v1/messages: the Anthropic Messages API onto the generation pipeline (source ANTHROPIC),
 * for `@anthropic-ai/sdk` and tools pointed at ANTHROPIC_BASE_URL. Without `stream` it waits for
 * the generation and answers one Message; with `stream: true` it follows the generation's events
 * as Anthropic's SSE events. Errors before the stream opens are JSON in Anthropic's shape (the
 * router's); a failure after it is an `error` event, never a message_stop. Restarts mid-stream
 * go through the chat completions' StreamText (held while they repeat what was sent).
 */
import { TERMINAL_STATUSES } from "../../../db/entities/generation.entity";
import { fromEventView, type GenerationView } from "../../../realtime/generation-event";
import { sendJson } from "../../http-utils";
import { readJsonBody } from "../body";
import { openEventStream } from "../event-stream";
import { anthropicErrorBody, fromGeneration, sendV1Error } from "../errors";
import { SHUTDOWN_ERROR } from "../open-streams";
import { cancelWhenClientLeaves } from "../client-gone";
import { attemptsOf, runToTerminal, startAndFollow, withWholeOutput, type V1Command } from "../generation-call";
import { responseHeaders, servedModel, switchboardOptions } from "../headers";
import type { V1Request, V1Route } from "../route";
import { parseMessagesRequest } from "./messages-request";
import { toMessage, type MessageOutput } from "./messages-response";
import { MessagesStreamEncoder } from "./messages-stream";
import { StreamText } from "../openai/chat-completions.stream-text";

/** The stored output with its finish reason and tool calls (generation-call.ts: read again only for an older process's view). */
async function fullOutput(r: V1Request, gen: GenerationView): Promise<MessageOutput> {
  return (await withWholeOutput(r.services, r.viewer, gen)).output;
}

async function answer(r: V1Request, cmd: V1Command): Promise<void> {
  // A client that leaves before the answer cancels its generation.
  const gen = await runToTerminal(r.services, r.viewer, "ANTHROPIC", cmd, cancelWhenClientLeaves(r));
  const headers = { ...responseHeaders(gen, await attemptsOf(r.services, gen)), "request-id": r.viewer.requestId };
  if (gen.status !== "SUCCEEDED") return sendV1Error(r.res, "anthropic", fromGeneration(gen), headers);
  sendJson(r.res, 200, toMessage(gen.id, servedModel(gen), await fullOutput(r, gen)), headers);
}

async function stream(r: V1Request, cmd: V1Command): Promise<void> {
  const { gen, events } = await startAndFollow(r.services, r.viewer, "ANTHROPIC", cmd, cancelWhenClientLeaves(r));
  const { res } = r;
  res.on("close", () => void events.return?.());
  openEventStream(res, { ...responseHeaders(gen), "request-id": r.viewer.requestId });
  const enc = new MessagesStreamEncoder(gen.id, servedModel(gen));
  // Nothing sent twice across restarts; Anthropic's stream has no restart marker, so text that
  // departs from what was sent (a fallback answering differently) ends the stream instead.
  const text = new StreamText();
  const fail = (g: Pick<GenerationView, "status" | "errorCode" | "errorMessage">): void => void res.end(enc.error(anthropicErrorBody(fromGeneration(g))));
  const diverged = (): void =>
    void res.end(enc.error({ type: "error", error: { type: "api_error", message: `The upstream stream broke mid-answer and its retry answered differently; the partial answer is void (generation ${gen.id})` } }));
  res.write(enc.start());
  // Shutdown: an `error` event, never a message_stop.
  const unregister = r.streams.add(() => {
    if (!res.writableEnded) res.end(enc.error(anthropicErrorBody(SHUTDOWN_ERROR)));
    void events.return?.();
  });
  try {
    for await (const ev of events) {
      if (res.destroyed || res.writableEnded) return;
      if (ev.type === "STARTED" || ev.type === "RESTARTED") text.restart();
      const piece = ev.type === "DELTA" ? text.delta(ev.delta ?? "") : ev.type === "SNAPSHOT" ? text.snapshot(ev.text ?? "") : undefined;
      if (piece?.restart) return diverged();
      if (piece?.text) res.write(enc.delta(piece.text));
      const g = fromEventView(ev.generation);
      if (!TERMINAL_STATUSES.includes(g.status)) continue;
      if (g.status !== "SUCCEEDED") return fail(g);
      const out = await fullOutput(r, g);
      // Whatever the events did not carry (an adapter that does not stream), without repeating what they did.
      const rest = text.finish(out?.text ?? "");
      if (rest.restart) return diverged();
      return void res.end(enc.delta(rest.text) + enc.finish(out));
    }
    // The events ended without a terminal state (the client left, or the subscription failed).
    if (!res.destroyed && !res.writableEnded) fail({ status: "FAILED", errorCode: "PROVIDER_UNAVAILABLE", errorMessage: "The generation's event stream ended early" });
  } catch (err) {
    r.log.error({ err, generationId: gen.id }, "v1 messages stream failed");
    if (!res.destroyed && !res.writableEnded) fail({ status: "FAILED", errorCode: "INTERNAL_SERVER_ERROR", errorMessage: "Internal server error" });
  } finally {
    unregister();
  }
}

export const messagesRoute: V1Route = {
  method: "POST",
  path: "/v1/messages",
  api: "anthropic",
  async handle(r) {
    const body = await readJsonBody(r.req, r.config.http.bodyLimitBytes);
    const { cmd, stream: streamed } = parseMessagesRequest(body);
    const command: V1Command = { ...cmd, ...switchboardOptions(r.req, body) };
    return streamed ? stream(r, command) : answer(r, command);
  },
};
