import http from "node:http";
import type { AddressInfo } from "node:net";
import { gzipSync } from "node:zlib";
import OpenAI, { APIConnectionTimeoutError, APIUserAbortError, RateLimitError } from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nodeHttpFetch } from "./node-http-fetch";

type Seen = { method: string; url: string; headers: http.IncomingHttpHeaders; body: string; port: number };
const seen: Seen[] = [];
let base = "";
let releaseSecond: () => void = () => {};
let closedMidBody = Promise.resolve();

const server = http.createServer((req, res) => {
  const parts: Buffer[] = [];
  req.on("data", (c: Buffer) => parts.push(c));
  req.on("end", () => {
    seen.push({ method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(parts).toString("utf8"), port: req.socket.remotePort! });
    const path = req.url!.split("?")[0];
    if (path === "/json") {
      res.writeHead(201, { "content-type": "application/json", "x-multi": "a" });
      res.end(JSON.stringify({ got: Buffer.concat(parts).toString("utf8") }));
    } else if (path === "/sse") {
      // The first event now, the second only when the test says: a buffered body would hang here.
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write("data: one\n\n");
      releaseSecond = () => res.end("data: two\n\n");
    } else if (path === "/hang-body") {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write("data: one\n\n");
      closedMidBody = new Promise((r) => res.on("close", () => r()));
    } else if (path === "/hang") {
      // never answers (the client's abort or timeout ends it)
    } else if (path === "/gzip") {
      res.writeHead(200, { "content-type": "text/plain", "content-encoding": "gzip" });
      res.end(gzipSync("decoded text"));
    } else if (path === "/307") {
      res.writeHead(307, { location: "/json" });
      res.end();
    } else if (path === "/303") {
      res.writeHead(303, { location: "/json?after=303" });
      res.end();
    } else if (path === "/v1/chat/completions") {
      const chunk = (content: string) => `data: ${JSON.stringify({ id: "c1", object: "chat.completion.chunk", created: 1, model: "m", choices: [{ index: 0, delta: { content }, finish_reason: null }] })}\n\n`;
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.end(chunk("Hello") + chunk(" world") + "data: [DONE]\n\n");
    } else if (path === "/limited/chat/completions") {
      res.writeHead(429, { "content-type": "application/json", "retry-after": "7" });
      res.end(JSON.stringify({ error: { message: "slow down", type: "rate_limit", code: "rate_limit_exceeded" } }));
    } else {
      res.writeHead(404);
      res.end();
    }
  });
});

beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const last = () => seen[seen.length - 1];

describe("nodeHttpFetch", () => {
  it("sends the method, headers and body and answers status, headers and JSON", async () => {
    const res = await nodeHttpFetch(`${base}/json`, { method: "post", headers: new Headers({ "Content-Type": "application/json", "X-Test": "1" }), body: '{"a":"é"}' });
    expect(res.status).toBe(201);
    expect(res.ok).toBe(true);
    expect(res.headers.get("x-multi")).toBe("a");
    expect(await res.json()).toEqual({ got: '{"a":"é"}' });
    expect(last()).toMatchObject({ method: "POST", body: '{"a":"é"}' });
    expect(last().headers).toMatchObject({ "content-type": "application/json", "x-test": "1", "content-length": String(Buffer.byteLength('{"a":"é"}')) });
    await expect(res.text()).rejects.toThrow(/already been read/);
  });

  it("streams the body as it arrives (an SSE answer is not buffered)", async () => {
    const res = await nodeHttpFetch(`${base}/sse`, { method: "GET" });
    const it = (res.body as unknown as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
    const first = await it.next();
    expect(String(first.value)).toBe("data: one\n\n");
    releaseSecond();
    expect(String((await it.next()).value)).toBe("data: two\n\n");
    expect((await it.next()).done).toBe(true);
  });

  it("rejects with an AbortError when the signal aborts before the answer, and ends a body being read with one", async () => {
    const before = new AbortController();
    const pending = nodeHttpFetch(`${base}/hang`, { method: "GET", signal: before.signal });
    setTimeout(() => before.abort(), 50);
    await expect(pending).rejects.toMatchObject({ name: "AbortError" });

    const already = new AbortController();
    already.abort();
    await expect(nodeHttpFetch(`${base}/json`, { signal: already.signal })).rejects.toMatchObject({ name: "AbortError" });

    const during = new AbortController();
    const res = await nodeHttpFetch(`${base}/hang-body`, { signal: during.signal });
    const it = (res.body as unknown as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
    expect(String((await it.next()).value)).toBe("data: one\n\n");
    const next = it.next();
    during.abort();
    await expect(next).rejects.toMatchObject({ name: "AbortError" });
    await closedMidBody; // the upstream sees the connection go
  });

  it("decodes a gzip body", async () => {
    const res = await nodeHttpFetch(`${base}/gzip`);
    expect(await res.text()).toBe("decoded text");
  });

  it("follows redirects as fetch does: 307 keeps the POST and its body, 303 goes on as a GET", async () => {
    const kept = await nodeHttpFetch(`${base}/307`, { method: "POST", body: "payload", headers: { "content-type": "text/plain" } });
    expect(kept.redirected).toBe(true);
    expect(kept.url).toBe(`${base}/json`);
    expect(await kept.json()).toEqual({ got: "payload" });
    expect(last()).toMatchObject({ method: "POST", url: "/json" });
    const seeOther = await nodeHttpFetch(`${base}/303`, { method: "POST", body: "payload" });
    expect(await seeOther.json()).toEqual({ got: "" });
    expect(last()).toMatchObject({ method: "GET", url: "/json?after=303", body: "" });
  });

  it("reuses its keep-alive connection", async () => {
    await (await nodeHttpFetch(`${base}/json`, { method: "POST", body: "1" })).text();
    const port = last().port;
    await (await nodeHttpFetch(`${base}/json`, { method: "POST", body: "2" })).text();
    expect(last().port).toBe(port);
  });

  it("hands a FormData upload to the global fetch", async () => {
    const form = new FormData();
    form.append("purpose", "batch");
    form.append("file", new Blob(["{}\n"], { type: "application/jsonl" }), "b.jsonl");
    const res = await nodeHttpFetch(`${base}/json`, { method: "POST", body: form });
    expect(res).toBeInstanceOf(Response);
    expect(String(last().headers["content-type"])).toMatch(/^multipart\/form-data; boundary=/);
    expect(last().body).toContain('name="purpose"');
  });

  describe("as the openai SDK's fetch", () => {
    const client = (baseURL: string, timeout = 60_000) => new OpenAI({ apiKey: "sk-test", baseURL, maxRetries: 0, timeout, fetch: nodeHttpFetch, logLevel: "off" });

    it("streams a chat completion", async () => {
      const stream = await client(`${base}/v1`).chat.completions.create({ model: "m", messages: [{ role: "user", content: "hi" }], stream: true });
      let text = "";
      for await (const c of stream) text += c.choices[0]?.delta?.content ?? "";
      expect(text).toBe("Hello world");
      expect(last().headers.authorization).toBe("Bearer sk-test");
    });

    it("maps an error status, a timeout and a cancel to the SDK's own errors", async () => {
      const limited = await client(`${base}/limited`).chat.completions.create({ model: "m", messages: [{ role: "user", content: "hi" }] }).catch((e: unknown) => e);
      expect(limited).toBeInstanceOf(RateLimitError);
      expect((limited as RateLimitError).headers.get("retry-after")).toBe("7");
      const slow = await client(`${base}/hang?`, 100).models.list().catch((e: unknown) => e);
      expect(slow).toBeInstanceOf(APIConnectionTimeoutError);
      const ac = new AbortController();
      const cancelled = client(`${base}/hang?`).models.list({ signal: ac.signal }).catch((e: unknown) => e);
      setTimeout(() => ac.abort(), 50);
      expect(await cancelled).toBeInstanceOf(APIUserAbortError);
    });
  });
});
