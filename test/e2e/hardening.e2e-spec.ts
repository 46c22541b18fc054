import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collect, startTestApp, type TestApp } from "../helpers/test-app";

describe("hardening: abusive requests get clear errors and the server stays up", () => {
  let t: TestApp;
  let prod: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ limits: { wsMaxSubscriptions: 5 } });
    prod = await startTestApp({ env: "production", http: { introspection: false } });
  });
  afterAll(async () => {
    await t?.close();
    await prod?.close();
  });

  const alive = async (app: TestApp) => expect((await app.gql(app.adminKey, "{ me { id } }")).data?.me.id).toBeTruthy();

  it("rejects a deep query", async () => {
    const deep = `{ generations { edges { node { user { id } provider { models { pricing { perImageUsd } } } attempts { provider } output { usage { inputTokens } } } } } }`;
    expect((await t.gql(t.adminKey, deep)).errors).toBeUndefined();
    // 12 levels of selection sets: beyond GRAPHQL_MAX_DEPTH (10).
    const q = "{ " + "generations { edges { node { ".repeat(4) + "id" + " } } }".repeat(4) + " }";
    const res = await t.gql(t.adminKey, q);
    expect(res.errors?.[0].extensions?.code).toBe("GRAPHQL_VALIDATION_FAILED");
    expect(res.errors?.[0].message).toMatch(/depth/i);
    await alive(t);
  });

  it("rejects an alias bomb", async () => {
    const q = "{ " + Array.from({ length: 200 }, (_, i) => `a${i}: me { id }`).join(" ") + " }";
    const res = await t.gql(t.adminKey, q);
    expect(res.errors?.[0].extensions?.code).toBe("GRAPHQL_VALIDATION_FAILED");
    expect(res.errors?.[0].message).toMatch(/alias/i);
    await alive(t);
  });

  it("rejects a 10 MB body with 413 and a JSON error", async () => {
    const res = await fetch(t.url, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${t.adminKey}` }, body: JSON.stringify({ query: "{ me { id } }", variables: { pad: "x".repeat(10 * 1024 * 1024) } }) });
    expect(res.status).toBe(413);
    expect(((await res.json()) as any).errors[0].extensions.code).toBe("PAYLOAD_TOO_LARGE");
    await alive(t);
  });

  it("rejects malformed JSON with 400", async () => {
    const res = await fetch(t.url, { method: "POST", headers: { "content-type": "application/json" }, body: "{nope" });
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).errors[0].extensions.code).toBe("BAD_REQUEST");
  });

  it("closes a socket that sends a malformed frame, and keeps serving", async () => {
    const ws = new WebSocket(t.wsUrl, "graphql-transport-ws");
    await new Promise((r) => ws.once("open", r));
    ws.send(JSON.stringify({ type: "connection_init", payload: { authorization: `Bearer ${t.adminKey}` } }));
    await new Promise((r) => ws.once("message", r)); // connection_ack
    const closed = new Promise<number>((r) => ws.once("close", (code) => r(code)));
    ws.send("{this is not json");
    expect(await closed).toBe(4400);
    await alive(t);
  });

  it("closes a socket whose message exceeds the size cap", async () => {
    const ws = new WebSocket(t.wsUrl, "graphql-transport-ws");
    await new Promise((r) => ws.once("open", r));
    const closed = new Promise<number>((r) => ws.once("close", (code) => r(code)));
    ws.send(JSON.stringify({ type: "connection_init", payload: { pad: "x".repeat(200_000) } }));
    expect(await closed).toBe(1009);
    await alive(t);
  });

  it("caps subscriptions per socket with TOO_MANY_SUBSCRIPTIONS", async () => {
    const client = t.wsClient(t.adminKey);
    const live = Array.from({ length: 5 }, () => collect(client, "subscription { myGenerations { seq } }", {}, () => false, 60_000));
    // The cap is checked at subscribe time; give the first five a moment to register.
    await new Promise((r) => setTimeout(r, 300));
    const extra = collect(client, "subscription { myGenerations { seq } }", {}, () => true, 5_000);
    await extra.done;
    expect(JSON.stringify(extra.errors)).toContain("at most 5 subscriptions per socket");
    expect(live.every((l) => l.errors.length === 0)).toBe(true);
    await alive(t);
  });

  it("hides internal details and introspection in production", async () => {
    const res = await prod.gql(prod.adminKey, "{ __schema { types { name } } }");
    expect(res.errors?.[0].extensions?.code).toBe("GRAPHQL_VALIDATION_FAILED");
    const page = await fetch(prod.url, { headers: { accept: "text/html" } });
    expect(await page.text()).not.toContain("sandbox");
    await alive(prod);
  });
});
