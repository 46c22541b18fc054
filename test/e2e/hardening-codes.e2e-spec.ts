/**
 * Errors that were INTERNAL_SERVER_ERROR / HTTP 500 get their own code and status (issue 13,
 * defect 8): a token-limit rejection, a persisted-query hash mismatch, a subscription sent over
 * HTTP, and a Postgres outage.
 */
import net from "node:net";
import { createHash } from "node:crypto";
import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, startTestApp, type TestApp } from "../helpers/test-app";
import { createTestDatabase, type TestDatabase } from "../helpers/infra";

/** A TCP relay to Postgres that can be cut (every connection dropped, new ones refused) and restored. */
async function pgRelay() {
  const port = await freePort();
  const conns = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(5432, "127.0.0.1");
    conns.add(client).add(upstream);
    const drop = () => { client.destroy(); upstream.destroy(); conns.delete(client); conns.delete(upstream); };
    client.on("error", drop).on("close", drop);
    upstream.on("error", drop).on("close", drop);
    client.pipe(upstream).pipe(client);
  });
  const listen = () => new Promise<void>((r) => server.listen(port, "127.0.0.1", () => r()));
  await listen();
  return {
    port,
    async cut() {
      await new Promise<void>((r) => { server.close(() => r()); for (const c of conns) c.destroy(); });
    },
    restore: listen,
    close: () => new Promise<void>((r) => { for (const c of conns) c.destroy(); server.close(() => r()); }),
  };
}

async function post(t: TestApp, key: string | null, body: unknown) {
  const res = await fetch(t.url, {
    method: "POST",
    headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as any };
}

describe("hardening: clear codes and statuses instead of internal errors", () => {
  let t: TestApp;
  let db: TestDatabase;
  let relay: Awaited<ReturnType<typeof pgRelay>>;
  beforeAll(async () => {
    db = await createTestDatabase();
    relay = await pgRelay();
    t = await startTestApp({ db: { url: db.url.replace(":5432/", `:${relay.port}/`), poolSize: 4 } }, { db, workers: false });
  });
  afterAll(async () => {
    await relay?.restore().catch(() => undefined);
    await t?.close();
    await relay?.close();
    await db?.drop();
  });

  it("a document over the token limit is GRAPHQL_PARSE_FAILED with HTTP 400, not 500", async () => {
    const query = "{ " + "__typename ".repeat(5001) + "}";
    const res = await post(t, t.adminKey, { query });
    expect(res.status).toBe(400);
    expect(res.body.errors[0].extensions.code).toBe("GRAPHQL_PARSE_FAILED");
    expect(res.body.errors[0].message).toMatch(/5000 tokens/);
    expect((await post(t, t.adminKey, { query: "{ me { id } }" })).body.data.me.id).toBeTruthy();
  });

  it("a persisted-query hash that is not the query's is PERSISTED_QUERY_HASH_MISMATCH with HTTP 400; a right one registers", async () => {
    const query = "{ me { id } }";
    const bad = await post(t, t.adminKey, { query, extensions: { persistedQuery: { version: 1, sha256Hash: "0".repeat(64) } } });
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].extensions.code).toBe("PERSISTED_QUERY_HASH_MISMATCH");

    const sha256Hash = createHash("sha256").update(query).digest("hex");
    const miss = await post(t, t.adminKey, { extensions: { persistedQuery: { version: 1, sha256Hash } } });
    expect(miss.body.errors[0].extensions.code).toBe("PERSISTED_QUERY_NOT_FOUND");
    expect((await post(t, t.adminKey, { query, extensions: { persistedQuery: { version: 1, sha256Hash } } })).body.data.me.id).toBeTruthy();
    expect((await post(t, t.adminKey, { extensions: { persistedQuery: { version: 1, sha256Hash } } })).body.data.me.id).toBeTruthy();
  });

  it("a subscription sent over HTTP POST is BAD_REQUEST naming the WebSocket endpoint", async () => {
    const res = await post(t, t.adminKey, { query: "subscription { myGenerations { seq } }" });
    expect(res.status).toBe(400);
    expect(res.body.errors[0].extensions.code).toBe("BAD_REQUEST");
    expect(res.body.errors[0].message).toContain(t.wsUrl);
    expect(res.body.errors[0].message).toContain("graphql-ws");
  });

  it("a Postgres outage is SERVICE_UNAVAILABLE with retryAfterSeconds and HTTP 503 (WebSocket: 1013), and service resumes after it", async () => {
    const cached = t.adminKey; // resolved before: cached on this node
    const fresh = (await t.createUser()).key; // never resolved: its lookup needs Postgres
    const LIST = "{ generations { edges { node { id } } } }";
    expect((await post(t, cached, { query: LIST })).status).toBe(200);
    await relay.cut();
    try {
      for (const key of [cached, fresh]) {
        const res = await post(t, key, { query: LIST });
        expect(res.status, JSON.stringify(res.body)).toBe(503);
        const err = res.body.errors[0];
        expect(err.extensions.code).toBe("SERVICE_UNAVAILABLE");
        expect(err.extensions.retryAfterSeconds).toBeGreaterThan(0);
        expect(res.headers.get("retry-after")).toBe(String(err.extensions.retryAfterSeconds));
      }
      // A WebSocket whose key needs a lookup is told to come back later, not closed as an internal error.
      const ws = new WebSocket(t.wsUrl, "graphql-transport-ws");
      await new Promise((r) => ws.once("open", r));
      const closed = new Promise<[number, string]>((r) => ws.once("close", (code, reason) => r([code, reason.toString()])));
      ws.send(JSON.stringify({ type: "connection_init", payload: { authorization: `Bearer ${fresh}` } }));
      const [code, reason] = await closed;
      expect(code).toBe(1013);
      expect(reason).toMatch(/unavailable/);
    } finally {
      await relay.restore();
    }
    let res = await post(t, fresh, { query: LIST });
    for (let i = 0; i < 50 && res.status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 200));
      res = await post(t, fresh, { query: LIST });
    }
    expect(res.status).toBe(200);
    expect(res.body.data.generations.edges).toEqual([]);
  }, 60_000);
});
