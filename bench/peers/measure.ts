/**
 * The three measurements of `npm run bench:peers`, each a round of fixed time on one path (the
 * caller interleaves the paths' rounds and merges them, so a noisy moment on a shared machine
 * falls on every path alike):
 * latency at 1 connection (a sequential keep-alive loop timed with the high-resolution clock:
 * autocannon's histogram counts whole milliseconds, too coarse for a 0.05 ms path), requests per
 * second at 32 connections (autocannon), and a stream's time to first token at 1 connection
 * (until the first SSE chunk whose delta carries content) and to its end. Every answer is checked
 * (status, and the path's own test of the body), and the failures are counted beside the figures.
 */
import http from "node:http";
import autocannon from "autocannon";
import { percentile } from "../load";

/** One way in: where to send, with what, and what a good answer looks like. */
export interface Path {
  url: string;
  headers: Record<string, string>;
  /** The i-th request body (each one differs, so no cache or coalescing can answer it). */
  body(i: number): string;
  /** Whether a whole 200 answer's body is a success (a GraphQL error comes with 200). */
  ok(body: string): boolean;
}

/** Latency percentiles in ms, to the microsecond. */
export interface Latency {
  p50: number;
  p90: number;
  p99: number;
  mean: number;
}

const ms = (sortedMicros: number[], p: number) => Math.round(percentile(sortedMicros, p)) / 1000;
function latency(samplesMs: number[]): Latency {
  const s = samplesMs.map((x) => x * 1000).sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / Math.max(1, s.length);
  return { p50: ms(s, 50), p90: ms(s, 90), p99: ms(s, 99), mean: Math.round(mean) / 1000 };
}

let seq = 0;
/** A request on a one-socket keep-alive agent; `onData` sees each chunk with its time since the send (ms). */
function send(path: Path, agent: http.Agent, onData?: (text: string, atMs: number) => void): Promise<{ status: number; body: string; ms: number }> {
  const u = new URL(path.url);
  const body = path.body(++seq);
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    const since = () => Number(process.hrtime.bigint() - t0) / 1e6;
    const req = http.request(
      { host: u.hostname, port: u.port, path: u.pathname + u.search, method: "POST", agent, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body), ...path.headers } },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => {
          text += c;
          onData?.(text, since());
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text, ms: since() }));
        res.on("error", () => resolve({ status: 0, body: text, ms: since() }));
      },
    );
    req.on("error", (e) => resolve({ status: 0, body: String(e), ms: since() }));
    req.end(body);
  });
}

const failureSample = (r: { status: number; body: string }) => `${r.status}: ${r.body.slice(0, 300)}`;

// Content in a chat.completion.chunk's delta (a role-only first chunk has none).
const CONTENT_DELTA = /"delta":\{[^}]*"content":"[^"]/;

/** One round at 1 connection: each good answer's time (ms), and for a stream its time to first token. */
export interface At1Round {
  ms: number[];
  ttft: number[];
  failed: number;
  failureSample?: string;
}

/** Sequential requests on one keep-alive connection for `seconds` (a stream: until its first content chunk, and its end). */
export async function at1Round(path: Path, seconds: number, stream: boolean): Promise<At1Round> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const round: At1Round = { ms: [], ttft: [], failed: 0 };
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    let first: number | undefined;
    const r = await send(path, agent, stream ? (text, at) => void (first === undefined && CONTENT_DELTA.test(text) && (first = at)) : undefined);
    if (r.status === 200 && path.ok(r.body) && (!stream || first !== undefined)) {
      round.ms.push(r.ms);
      if (first !== undefined) round.ttft.push(first);
    } else {
      round.failed++;
      round.failureSample ??= failureSample(r);
    }
  }
  agent.destroy();
  return round;
}

/** The rounds of one path at 1 connection, merged. */
export function summariseAt1(rounds: At1Round[], stream: boolean) {
  const ms = rounds.flatMap((r) => r.ms);
  const failed = rounds.reduce((n, r) => n + r.failed, 0);
  const failureSample = rounds.find((r) => r.failureSample)?.failureSample;
  const head = { requests: ms.length + failed, failed, ...(failureSample ? { failureSample } : {}) };
  return stream ? { ...head, timeToFirstTokenMs: latency(rounds.flatMap((r) => r.ttft)), totalMs: latency(ms) } : { ...head, latencyMs: latency(ms) };
}

/** One round of autocannon at `connections`. */
export async function at32Round(path: Path, seconds: number, connections = 32) {
  const u = new URL(path.url);
  const r = await autocannon({
    url: u.origin,
    connections,
    duration: seconds,
    requests: [
      {
        method: "POST",
        path: u.pathname + u.search,
        headers: { "content-type": "application/json", ...path.headers },
        setupRequest: (req) => ({ ...req, body: path.body(++seq) }),
      },
    ],
  });
  return { seconds: r.duration, requests: r.requests.total, ok: r["2xx"], non2xx: r.non2xx, errors: r.errors, timeouts: r.timeouts, p50: r.latency.p50, p99: r.latency.p99 };
}
export type At32Round = Awaited<ReturnType<typeof at32Round>>;

/** The rounds of one path at 32 connections, merged: successful (2xx) answers per second over all of them. */
export function summariseAt32(rounds: At32Round[], connections = 32) {
  const sum = (k: "seconds" | "requests" | "ok" | "non2xx" | "errors" | "timeouts") => rounds.reduce((n, r) => n + r[k], 0);
  const p50s = rounds.map((r) => r.p50).sort((a, b) => a - b);
  return {
    connections,
    seconds: round3(sum("seconds")),
    requests: sum("requests"),
    reqPerSec: Math.round(sum("ok") / Math.max(1e-9, sum("seconds"))),
    non2xx: sum("non2xx"),
    errors: sum("errors"),
    timeouts: sum("timeouts"),
    // autocannon's own histogram (whole ms): the median of the rounds' p50s, the worst p99.
    latencyMs: { p50: p50s[Math.floor(p50s.length / 2)], p99: Math.max(...rounds.map((r) => r.p99)) },
  };
}
const round3 = (x: number) => Math.round(x * 1000) / 1000;
