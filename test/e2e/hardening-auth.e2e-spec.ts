/**
 * Failed authentication is throttled per client address (issue 13, defect 8): guesses cost no
 * Postgres query once the address is past its budget or the key prefix is known not to exist,
 * and valid keys from other addresses are unaffected.
 */
import http from "node:http";
import { randomBytes } from "node:crypto";
import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../helpers/test-app";

const ME = "{ me { id } }";
const token = (n: number) => randomBytes(n).toString("hex").slice(0, n);
const guess = (prefix = token(8)) => `sb_${prefix}_${token(32)}`;

/** POST from a chosen local address (127.0.0.0/8 is all loopback), so the server sees another client. */
function postFrom(t: TestApp, localAddress: string, key: string | null, query: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: any }> {
  const data = JSON.stringify({ query });
  return new Promise((resolve, reject) => {
    const req = http.request(t.url, {
      method: "POST", localAddress, agent: false,
      headers: { "content-type": "application/json", "content-length": Buffer.byteLength(data), ...(key ? { authorization: `Bearer ${key}` } : {}) },
    }, (res) => {
      let s = "";
      res.on("data", (c) => (s += c));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: JSON.parse(s) }));
    });
    req.on("error", reject);
    req.end(data);
  });
}

describe("hardening: failed authentication is throttled per client address", () => {
  let t: TestApp;
  let queries = 0;
  beforeAll(async () => {
    t = await startTestApp({ auth: { unauthenticatedPerMinute: 20 } }, { workers: false });
    // Count the statements authentication sends to Postgres (an observer, not a mock).
    const query = t.app.ds.query.bind(t.app.ds);
    t.app.ds.query = ((sql: string, ...rest: unknown[]) => {
      if (sql.includes("FROM api_keys k")) queries++;
      return (query as (...a: unknown[]) => Promise<unknown>)(sql, ...rest);
    }) as typeof t.app.ds.query;
  });
  afterAll(async () => {
    await t?.close();
  });

  it("remembers an unknown key prefix: guesses under it cost one lookup", async () => {
    const prefix = token(8);
    const before = queries;
    for (let i = 0; i < 10; i++) {
      const res = await postFrom(t, "127.0.0.3", guess(prefix), ME);
      expect(res.body.errors[0].extensions.code).toBe("UNAUTHENTICATED");
    }
    expect(queries - before).toBe(1);
  });

  it("answers RATE_LIMITED with retryAfterSeconds past the budget, without a lookup; other addresses and cached keys are unaffected", async () => {
    const victim = await t.createUser();
    const other = await t.createUser();
    expect((await postFrom(t, "127.0.0.1", victim.key, ME)).body.data.me.id).toBe(victim.id); // cached on this node

    const statuses: number[] = [];
    let limited: any;
    for (let i = 0; i < 30; i++) {
      const res = await postFrom(t, "127.0.0.1", guess(), ME);
      statuses.push(res.status);
      if (res.status === 429) limited = res;
    }
    expect(statuses.filter((s) => s === 200)).toHaveLength(20); // UNAUTHENTICATED is a GraphQL error (HTTP 200)
    expect(statuses.filter((s) => s === 429)).toHaveLength(10);
    const err = limited.body.errors[0];
    expect(err.extensions.code).toBe("RATE_LIMITED");
    expect(err.extensions.retryAfterSeconds).toBeGreaterThan(0);
    expect(err.extensions.retryAfterSeconds).toBeLessThanOrEqual(60);
    expect(Number(limited.headers["retry-after"])).toBe(err.extensions.retryAfterSeconds);

    // Past the budget a guess costs no Postgres query, and requests without any key are refused too.
    const before = queries;
    expect((await postFrom(t, "127.0.0.1", guess(), ME)).status).toBe(429);
    expect((await postFrom(t, "127.0.0.1", null, ME)).status).toBe(429);
    expect(queries).toBe(before);

    // A valid key from another address (never cached) and the cached key from this one still work.
    const fromElsewhere = await postFrom(t, "127.0.0.2", other.key, ME);
    expect(fromElsewhere.status).toBe(200);
    expect(fromElsewhere.body.data.me.id).toBe(other.id);
    expect((await postFrom(t, "127.0.0.1", victim.key, ME)).body.data.me.id).toBe(victim.id);
  });

  it("throttles WebSocket connects with bad keys from the same address (close 1013)", async () => {
    // 127.0.0.1 is past its budget (previous test): the socket is refused before a lookup.
    const ws = new WebSocket(t.wsUrl, "graphql-transport-ws");
    await new Promise((r) => ws.once("open", r));
    const closed = new Promise<[number, string]>((r) => ws.once("close", (code, reason) => r([code, reason.toString()])));
    ws.send(JSON.stringify({ type: "connection_init", payload: { authorization: `Bearer ${guess()}` } }));
    const [code, reason] = await closed;
    expect(code).toBe(1013);
    expect(reason).toMatch(/without a valid API key/);
  });
});
