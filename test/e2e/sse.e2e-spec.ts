/**
 * GraphQL over Server-Sent Events (/graphql/stream), through graphql-sse's own client against
 * the real server: same auth as the WebSocket, same subscription resolvers, and a subscription
 * sent to plain POST /graphql is BAD_REQUEST naming both endpoints.
 */
import { createClient, type Client } from "graphql-sse";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../helpers/test-app";

const streamUrl = (t: TestApp) => `${t.url}/stream`;

function sseClient(t: TestApp, key: string | null): Client {
  return createClient({ url: streamUrl(t), retryAttempts: 0, headers: key ? { authorization: `Bearer ${key}` } : {} });
}

/** Runs one operation to completion; resolves with every result (or rejects with the stream's error). */
function run(client: Client, query: string, variables: Record<string, unknown> = {}, onResult?: (r: any) => void): Promise<any[]> {
  const results: any[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out with ${JSON.stringify(results).slice(0, 1000)}`)), 30_000);
    client.subscribe({ query, variables }, {
      next: (r) => {
        results.push(r);
        onResult?.(r);
      },
      error: (e) => {
        clearTimeout(timer);
        reject(e);
      },
      complete: () => {
        clearTimeout(timer);
        resolve(results);
      },
    });
  });
}

const UPDATED = `subscription GenerationUpdated($id: ID!) { generationUpdated(id: $id) { type seq text delta generation { id status output { text } } } }`;

describe("GraphQL over SSE (/graphql/stream)", () => {
  let t: TestApp;
  let user: { id: string; key: string };
  beforeAll(async () => {
    t = await startTestApp();
    user = await t.createUser();
  });
  afterAll(async () => t?.close());

  it("a generationUpdated subscription sees SNAPSHOT, the streamed text, then SUCCEEDED and completes", async () => {
    const created = await t.gql(user.key, `mutation { createGeneration(input: {modality: TEXT, model: "simulated/text", prompt: "over sse", params: {simulate: {latencyMs: 300}}}) { id } }`);
    const id = created.data!.createGeneration.id;
    const client = sseClient(t, user.key);
    const results = await run(client, UPDATED, { id });
    client.dispose();
    expect(results.every((r) => !r.errors)).toBe(true);
    const events = results.map((r) => r.data.generationUpdated);
    expect(events[0].type).toBe("SNAPSHOT");
    expect(events.at(-1).type).toBe("SUCCEEDED");
    expect(events.at(-1).generation).toMatchObject({ id, status: "SUCCEEDED" });
    // The README's protocol: the snapshot's text, then every later delta (by seq) rebuilds the output.
    const text = events[0].text + events.slice(1).filter((e: any) => e.type === "DELTA" && e.seq > events[0].seq).map((e: any) => e.delta).join("");
    expect(text).toBe(events.at(-1).generation.output.text);
  });

  it("the same filters as the WebSocket: another user's generation is NOT_FOUND", async () => {
    const other = await t.createUser();
    const created = await t.gql(other.key, `mutation { createGeneration(input: {modality: TEXT, model: "simulated/text", prompt: "mine"}) { id } }`);
    const client = sseClient(t, user.key);
    const results = await run(client, UPDATED, { id: created.data!.createGeneration.id });
    client.dispose();
    expect(results.flatMap((r) => r.errors ?? []).map((e: any) => e.extensions?.code)).toEqual(["NOT_FOUND"]);
  });

  it("queries work over the stream too, with the caller's identity", async () => {
    const client = sseClient(t, user.key);
    const results = await run(client, `query Me { me { id } }`);
    client.dispose();
    expect(results).toEqual([{ data: { me: { id: user.id } } }]);
  });

  it("no key or a wrong key: 401 UNAUTHENTICATED before any stream opens", async () => {
    for (const key of [null, `sb_abcdefgh_${"c".repeat(32)}`]) {
      const res = await fetch(streamUrl(t), {
        method: "POST",
        headers: { accept: "text/event-stream", "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) },
        body: JSON.stringify({ query: `subscription { myGenerations { seq } }` }),
      });
      expect(res.status, String(key)).toBe(401);
      expect(res.headers.get("content-type")).toContain("application/json");
      const body = (await res.json()) as any;
      expect(body.errors[0].extensions.code).toBe("UNAUTHENTICATED");
    }
    // and graphql-sse's client reports it as an error, not as an empty stream
    await expect(run(sseClient(t, null), `subscription { myGenerations { seq } }`)).rejects.toThrow(/401/);
  });

  it("a request that is not an event stream gets a clear 406", async () => {
    const res = await fetch(streamUrl(t), { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${user.key}` }, body: JSON.stringify({ query: "{ me { id } }" }) });
    expect(res.status).toBe(406);
    expect(((await res.json()) as any).errors[0].message).toMatch(/Accept: text\/event-stream/);
  });

  it("a subscription over plain POST /graphql is BAD_REQUEST naming the WebSocket and the SSE endpoint", async () => {
    const res = await fetch(t.url, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${user.key}` },
      body: JSON.stringify({ query: `subscription { myGenerations { seq } }` }),
    });
    expect(res.status).toBe(400);
    const err = ((await res.json()) as any).errors[0];
    expect(err.extensions.code).toBe("BAD_REQUEST");
    expect(err.message).toContain(`ws://127.0.0.1:${t.port}/graphql`);
    expect(err.message).toContain(`http://127.0.0.1:${t.port}/graphql/stream`);
  });

  it("revoking the key ends its open streams", async () => {
    const u = await t.createUser();
    const client = sseClient(t, u.key);
    let first!: () => void;
    const seen = new Promise<void>((r) => (first = r));
    const created = await t.gql(u.key, `mutation { createGeneration(input: {modality: TEXT, model: "simulated/text", prompt: "long", params: {simulate: {latencyMs: 20000}}}) { id } }`);
    const done = run(client, UPDATED, { id: created.data!.createGeneration.id }, () => first());
    await seen; // the SNAPSHOT arrived: the stream is open
    const [key] = await t.app.services.apiKeys.listKeys(u.id);
    await t.app.services.apiKeys.revoke(key.id);
    const outcome = await done.then(() => "completed", (e: Error) => `error: ${e.message}`);
    client.dispose();
    expect(outcome).toMatch(/^error/); // cut, as a revoked WebSocket is closed: not a normal completion
    const gauge = (await t.app.metrics.registry.getSingleMetricAsString("switchboard_sse_streams")).trim().split("\n").at(-1);
    expect(gauge).toBe("switchboard_sse_streams 0");
  });
});
