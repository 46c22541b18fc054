/** The head of a /v1 Server-Sent Events answer (chat completions, responses, messages): one place for its headers. */
import type { ServerResponse } from "node:http";

/** Writes 200 with the event-stream headers and `headers` (x-switchboard-*, …), and sends the head at once. */
export function openEventStream(res: ServerResponse, headers: Record<string, string>): void {
  res.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache",
    connection: "keep-alive",
    "x-accel-buffering": "no", // proxies must not hold events back
    ...headers,
  });
  res.flushHeaders();
}
