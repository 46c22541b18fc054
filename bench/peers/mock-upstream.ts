/**
 * Child process of `npm run bench:peers`: the mock upstream, OpenAI's `POST /v1/chat/completions`
 * on 127.0.0.1 (a free port, sent to the parent over IPC). Non-streaming answers one JSON
 * completion; `stream: true` answers OpenAI's SSE chunks: the role and first token at once, the
 * remaining tokens, the finish chunk, the usage chunk (when `stream_options.include_usage`) and
 * `[DONE]` after BENCH_PEERS_STREAM_GAP_MS (default 0: the next turn of the event loop), so time to
 * first token is measurable apart from the whole answer. Everything else answers 404 in
 * OpenAI's error shape. It does as little as it can: every path is measured against it.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";

const GAP_MS = Number(process.env.BENCH_PEERS_STREAM_GAP_MS ?? 0);
const TOKENS = ["Bench", " answer", " from", " the", " mock", " upstream", "."];
const TEXT = TOKENS.join("");
const USAGE = { prompt_tokens: 12, completion_tokens: TOKENS.length, total_tokens: 12 + TOKENS.length };
const CREATED = Math.floor(Date.now() / 1000);

let n = 0;
const completion = (model: string) =>
  JSON.stringify({
    id: `chatcmpl-mock-${++n}`,
    object: "chat.completion",
    created: CREATED,
    model,
    choices: [{ index: 0, message: { role: "assistant", content: TEXT, refusal: null }, logprobs: null, finish_reason: "stop" }],
    usage: USAGE,
  });

function chunks(model: string, includeUsage: boolean): [string, string] {
  const id = `chatcmpl-mock-${++n}`;
  const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) =>
    `data: ${JSON.stringify({ id, object: "chat.completion.chunk", created: CREATED, model, choices, ...extra })}\n\n`;
  const delta = (d: Record<string, unknown>, finish: string | null = null) => chunk([{ index: 0, delta: d, logprobs: null, finish_reason: finish }]);
  const first = delta({ role: "assistant", content: TOKENS[0] });
  const rest =
    TOKENS.slice(1).map((t) => delta({ content: t })).join("") +
    delta({}, "stop") +
    (includeUsage ? chunk([], { usage: USAGE }) : "") +
    "data: [DONE]\n\n";
  return [first, rest];
}

const server = http.createServer((req, res) => {
  const parts: Buffer[] = [];
  req.on("data", (b: Buffer) => parts.push(b));
  req.on("end", () => {
    if (req.method !== "POST" || !req.url?.startsWith("/v1/chat/completions")) {
      res.writeHead(404, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { message: `mock upstream: no ${req.method} ${req.url}`, type: "invalid_request_error", param: null, code: "not_found" } }));
      return;
    }
    let body: { model?: string; stream?: boolean; stream_options?: { include_usage?: boolean } };
    try {
      body = JSON.parse(Buffer.concat(parts).toString("utf8"));
    } catch {
      res.writeHead(400, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { message: "mock upstream: body is not JSON", type: "invalid_request_error", param: null, code: null } }));
      return;
    }
    const model = body.model ?? "gpt-4o-mini";
    if (!body.stream) {
      const json = completion(model);
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(json) });
      res.end(json);
      return;
    }
    const [first, rest] = chunks(model, body.stream_options?.include_usage === true);
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    res.write(first);
    const finish = () => res.end(rest);
    if (GAP_MS > 0) setTimeout(finish, GAP_MS);
    else setImmediate(finish);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, "127.0.0.1", () => process.send!({ port: (server.address() as AddressInfo).port, text: TEXT }));
process.on("message", (m: { cmd: string }) => {
  if (m.cmd !== "stop") return;
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
process.on("disconnect", () => process.exit(0));
