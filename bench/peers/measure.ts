/**
 * The three measurements of `npm run bench:peers`, each for a fixed time on one path:
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

/** Sequential requests on one keep-alive connection for `seconds`. */
export async function latencyAt1(path: Path, seconds: number) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const samples: number[] = [];
  let failed = 0;
  let sample: string | undefined;
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    const r = await send(path, agent);
    if (r.status === 200 && path.ok(r.body)) samples.push(r.ms);
    else {
      failed++;
      sample ??= failureSample(r);
    }
  }
  agent.destroy();
  return { requests: samples.length + failed, failed, ...(sample ? { failureSample: sample } : {}), latencyMs: latency(samples) };
}

// Content in a chat.completion.chunk's delta (a role-only first chunk has none).
const CONTENT_DELTA = /"delta":\{[^}]*"content":"[^"]/;

/** Sequential streamed requests on one keep-alive connection for `seconds`: time to first token and to the end. */
export async function streamAt1(path: Path, seconds: number) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const ttft: number[] = [];
  const total: number[] = [];
  let failed = 0;
  let sample: string | undefined;
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    let first: number | undefined;
    const r = await send(path, agent, (text, at) => {
      if (first === undefined && CONTENT_DELTA.test(text)) first = at;
    });
    if (r.status === 200 && first !== undefined && path.ok(r.body)) {
      ttft.push(first);
      total.push(r.ms);
    } else {
      failed++;
      sample ??= failureSample(r);
    }
  }
  agent.destroy();
  return { requests: ttft.length + failed, failed, ...(sample ? { failureSample: sample } : {}), timeToFirstTokenMs: latency(ttft), totalMs: latency(total) };
}

/** autocannon at `connections` for `seconds`: successful answers per second (2xx; GraphQL errors are counted by the caller). */
export async function throughput(path: Path, seconds: number, connections = 32) {
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
  return {
    connections,
    seconds: r.duration,
    requests: r.requests.total,
    reqPerSec: Math.round(r["2xx"] / r.duration),
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    latencyMs: { p50: r.latency.p50, p99: r.latency.p99 },
  };
}
