/** A closed-loop HTTP load generator: C concurrent keep-alive connections, N requests in all. */
import http from "node:http";

export interface LoadResult {
  requests: number;
  errors: number;
  /** The first few failures (status and the error's code or message), so a bench run says what failed. */
  errorSamples: string[];
  seconds: number;
  perSecond: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
}

export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return Math.round(sorted[i] * 100) / 100;
}

export function summarise(latencies: number[]) {
  const s = [...latencies].sort((a, b) => a - b);
  return { p50: percentile(s, 50), p90: percentile(s, 90), p99: percentile(s, 99), max: percentile(s, 100) };
}

export async function load(opts: {
  url: string;
  concurrency: number;
  total: number;
  headers?: Record<string, string>;
  body: (i: number) => string;
  /** Called with each parsed response body and its send time (ms, performance.now()). */
  onResponse?: (body: any, sentAt: number, i: number) => void;
}): Promise<LoadResult> {
  const u = new URL(opts.url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: opts.concurrency });
  const latencies: number[] = [];
  let next = 0;
  let errors = 0;
  const errorSamples: string[] = [];
  const failed = (what: string) => {
    errors++;
    if (errorSamples.length < 5) errorSamples.push(what.slice(0, 200));
  };
  const one = (i: number) =>
    new Promise<void>((resolve) => {
      const body = opts.body(i);
      const sentAt = performance.now();
      const req = http.request(
        { host: u.hostname, port: u.port, path: u.pathname, method: "POST", agent, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body), ...opts.headers } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            latencies.push(performance.now() - sentAt);
            try {
              const parsed = JSON.parse(Buffer.concat(chunks).toString("utf8"));
              if (res.statusCode !== 200 || parsed.errors) failed(`${res.statusCode} ${JSON.stringify(parsed.errors?.[0]?.extensions?.code ?? parsed.errors?.[0]?.message ?? parsed)}`);
              opts.onResponse?.(parsed, sentAt, i);
            } catch {
              failed(`${res.statusCode} not JSON`);
            }
            resolve();
          });
        },
      );
      req.on("error", (err) => {
        failed(`connection: ${err.message}`);
        resolve();
      });
      req.end(body);
    });
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: opts.concurrency }, async () => {
      while (next < opts.total) await one(next++);
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  agent.destroy();
  return { requests: opts.total, errors, errorSamples, seconds: Math.round(seconds * 1000) / 1000, perSecond: Math.round(opts.total / seconds), latencyMs: summarise(latencies) };
}

/** One POST on a shared keep-alive agent; resolves with the parsed body (open-loop load). */
export function post(url: string, agent: http.Agent, headers: Record<string, string>, body: string): Promise<any> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const req = http.request(
      { host: u.hostname, port: u.port, path: u.pathname, method: "POST", agent, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body), ...headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          try {
            resolve(JSON.parse(Buffer.concat(chunks).toString("utf8")));
          } catch {
            resolve(null);
          }
        });
      },
    );
    req.on("error", () => resolve(null));
    req.end(body);
  });
}
