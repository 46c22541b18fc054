/**
 * The /v1 event streams open on this server, so that a graceful shutdown ends them instead of
 * leaving them to hang until the HTTP drain gives up: each stream registers how it ends in its
 * API's shape (OpenAI: an `error` event, never a clean `[DONE]` or `response.completed`;
 * Anthropic: an `error` event, never `message_stop`), and server.ts's close() runs them all
 * before it drains HTTP, as it ends the GraphQL SSE streams.
 */
export class OpenStreams {
  private readonly open = new Set<() => void>();
  private closing = false;

  /**
   * Registers an open stream's shutdown ending (write the error event, end the response).
   * @returns the unregister function (the stream ended on its own); during shutdown the ending runs at once.
   */
  add(end: () => void): () => void {
    if (this.closing) {
      end();
      return () => undefined;
    }
    this.open.add(end);
    return () => void this.open.delete(end);
  }

  /** How many are open (tests, metrics). */
  get size(): number {
    return this.open.size;
  }

  /** Shutdown: ends every open stream, and any opened from now on; returns how many were open. */
  closeAll(): number {
    this.closing = true;
    const ends = [...this.open];
    this.open.clear();
    for (const end of ends) end();
    return ends.length;
  }
}

/** What a stream says when the server shuts down under it (503: retry on another node). */
export const SHUTDOWN_ERROR = {
  status: 503,
  code: "SERVICE_UNAVAILABLE",
  message: "The server is shutting down; this stream ends without its answer. Retry the request (its generation, named in x-switchboard-generation-id, may still finish: read it with GraphQL).",
} as const;
