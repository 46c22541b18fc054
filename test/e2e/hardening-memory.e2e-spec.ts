/**
 * Distinct whitespace-padded documents must not grow the API's memory without bound (issue 13,
 * defect 1). The API runs as its own process with a small heap, so an unbounded document cache
 * kills it; its RSS is sampled from /proc while the stream runs.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../helpers/test-app";
import { spawnWorker, type WorkerProcess } from "../helpers/worker-process";

const PAD = 200 * 1024;
const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) / 1024;

describe("hardening: memory under a stream of distinct documents", () => {
  let t: TestApp;
  let api: WorkerProcess;
  let url: string;
  let key: string;

  beforeAll(async () => {
    t = await startTestApp({}, { workers: false });
    key = (await t.createUser()).key;
    api = await spawnWorker(t, {
      NODE_OPTIONS: "--max-old-space-size=160",
      GRAPHQL_MAX_QUERY_BYTES: String(256 * 1024),
      GRAPHQL_DOCUMENT_CACHE_BYTES: String(8 * 1024 * 1024),
      BODY_LIMIT_BYTES: String(1024 * 1024),
    }, 60_000, ["serve", "--no-worker"]);
    url = `http://127.0.0.1:${api.metricsPort}/graphql`;
  }, 90_000);
  afterAll(async () => {
    await api?.stop();
    await t?.close();
  });

  const post = (body: unknown, auth: string | null = key) =>
    fetch(url, { method: "POST", headers: { "content-type": "application/json", ...(auth ? { authorization: `Bearer ${auth}` } : {}) }, body: JSON.stringify(body) });

  it("refuses a query text over GRAPHQL_MAX_QUERY_BYTES with BAD_REQUEST naming the limit, before parsing", async () => {
    const res = await post({ query: "{ __typename }" + " ".repeat(900 * 1024) });
    expect(res.status).toBe(400);
    const err = ((await res.json()) as any).errors[0];
    expect(err.extensions).toMatchObject({ code: "BAD_REQUEST", limit: 256 * 1024 });
    expect(err.message).toContain("GRAPHQL_MAX_QUERY_BYTES");
    // Under the cap it is served.
    const ok = await post({ query: "{ __typename }" + " ".repeat(1000) });
    expect(((await ok.json()) as any).data.__typename).toBe("Query");
  });

  it("keeps RSS on a plateau while 480 distinct 200 KB documents are parsed, half of them persisted-query registrations", async () => {
    const pid = api.child.pid!;
    const samples: number[] = [];
    const total = 480;
    let next = 0;
    const worker = async () => {
      while (next < total) {
        const n = next++;
        const query = `{ __typename x${n}: __typename }` + " ".repeat(PAD);
        const apq = n % 2 ? { extensions: { persistedQuery: { version: 1, sha256Hash: createHash("sha256").update(query).digest("hex") } } } : {};
        const res = await post({ query, ...apq });
        expect(res.status, `request ${n}`).toBe(200);
        expect(((await res.json()) as any).data[`x${n}`]).toBe("Query");
        if (n % 80 === 79) samples.push(rssMb(pid));
      }
    };
    await Promise.all(Array.from({ length: 6 }, worker)); // 96 MB of distinct source text in all
    expect(api.child.exitCode).toBeNull();
    // Unbounded, every document keeps its 200 KB source alive: +16 MB per sample, and the
    // 160 MB heap dies. Bounded: the cache fills within the first sample and stays full.
    const growth = samples[samples.length - 1] - samples[0];
    console.log(`API RSS every 80 documents (MB): ${samples.map((s) => s.toFixed(0)).join(", ")}`);
    expect(growth, `RSS samples (MB): ${samples.map((s) => s.toFixed(0)).join(", ")}`).toBeLessThan(40);
  }, 120_000);

  it("does not parse for clients without a valid key beyond a small budget", async () => {
    const codes: string[] = [];
    for (let n = 0; n < 40; n++) {
      const res = await post({ query: `{ me { id } y${n}: __typename }` + " ".repeat(1000) }, null);
      codes.push(((await res.json()) as any).errors[0].extensions.code);
    }
    expect(codes.slice(0, 30).every((c) => c === "UNAUTHENTICATED")).toBe(true);
    expect(codes.slice(30).every((c) => c === "RATE_LIMITED")).toBe(true);
    // Refused before the parser: a syntax error is not even reported.
    const res = await post({ query: "{ nope(" }, null);
    expect(res.status).toBe(429);
    expect(((await res.json()) as any).errors[0].extensions.code).toBe("RATE_LIMITED");
  });
});
