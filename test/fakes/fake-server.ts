/**
 * The base of every fake provider server: a real node:http server on a free loopback port
 * that records each request and lets a test pick the scenario the next calls get. Each
 * provider's fake (test/fakes/<provider>.fake.ts) answers in that provider's documented
 * wire format, so the real adapter (and its SDK) parses real bytes.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";

/** What a fake can be told to do. Not every fake supports every one (see AdapterFixture). */
export type Scenario =
  | "ok"          // success (streams when the request asked for a stream)
  | "400" | "401" | "429" | "500" | "503" | "529"
  | "malformed"   // 200 with a body that is not valid JSON for the wire format
  | "cut"         // a stream that stops mid-answer (socket destroyed after some chunks)
  | "slow"        // answers later than any sensible timeout (10 s), unless the client aborts
  | "task_failed"; // async providers: the task is created, then reports failure

export interface RecordedRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: unknown;
  raw: string;
}

export interface FakeProviderServer {
  url: string;
  /** The scenario every following request gets until changed. */
  scenario: Scenario;
  /** Retry-After sent with 429 (seconds). */
  retryAfterSeconds: number;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

export type FakeHandler = (req: RecordedRequest, res: http.ServerResponse, server: FakeProviderServer) => void | Promise<void>;

export async function startFakeServer(handler: FakeHandler): Promise<FakeProviderServer> {
  const sockets = new Set<import("node:net").Socket>();
  const state: FakeProviderServer = {
    url: "",
    scenario: "ok",
    retryAfterSeconds: 7,
    requests: [],
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => srv.close(() => r()));
    },
  };
  const srv = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const raw = Buffer.concat(chunks).toString("utf8");
      let body: unknown = raw;
      try {
        body = raw ? JSON.parse(raw) : undefined;
      } catch {
        /* not JSON: keep the raw text */
      }
      const rec: RecordedRequest = { method: req.method ?? "GET", path: req.url ?? "/", headers: req.headers, body, raw };
      state.requests.push(rec);
      Promise.resolve(handler(rec, res, state)).catch((e) => {
        if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: { message: String(e) } }));
      });
    });
  });
  srv.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
  state.url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
  return state;
}

export function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(typeof body === "string" ? body : JSON.stringify(body));
}

/** Server-sent events: `data: <json>\n\n` per event (plus optional `event:` names). */
export function openSse(res: http.ServerResponse): { send(data: unknown, event?: string): void; end(): void; cut(): void } {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
  return {
    send(data, event) {
      res.write(`${event ? `event: ${event}\n` : ""}data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`);
    },
    end() {
      res.end();
    },
    /** The connection drops mid-stream, as when an upstream proxy dies. */
    cut() {
      res.socket?.destroy();
    },
  };
}

/**
 * The common error scenarios, answered with a provider's error body shape. Returns true when
 * the scenario was an error it answered; the fake handles ok/stream/cut/slow/malformed itself.
 */
export function answerErrorScenario(
  s: FakeProviderServer, res: http.ServerResponse, errorBody: (status: number, message: string) => unknown,
): boolean {
  const statuses: Partial<Record<Scenario, [number, string]>> = {
    "400": [400, "invalid request: max_tokens is too large"],
    "401": [401, "invalid api key"],
    "429": [429, "rate limit exceeded"],
    "500": [500, "internal server error"],
    "503": [503, "service unavailable"],
    "529": [529, "overloaded"],
  };
  const hit = statuses[s.scenario];
  if (!hit) return false;
  const headers: Record<string, string> = s.scenario === "429" ? { "retry-after": String(s.retryAfterSeconds) } : {};
  sendJson(res, hit[0], errorBody(hit[0], hit[1]), headers);
  return true;
}

/** Holds the response for 10 s (the "slow" scenario); a client abort ends it early. */
export function slow(res: http.ServerResponse, then: () => void): void {
  const t = setTimeout(then, 10_000);
  res.on("close", () => clearTimeout(t));
}
