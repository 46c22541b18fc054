import { buildSchema, parse, specifiedRules, type ExecutionArgs, type GraphQLFieldConfig } from "graphql";
import { describe, expect, it } from "vitest";
import { createPushIterator } from "../common/push-iterator";
import { createDocumentCache, sharedSubscribe, spliceSharedFrames } from "./shared-execution";

const schema = buildSchema("type Ev { id: ID! n: Int! } type Query { ok: Boolean } type Subscription { ev: Ev! }");
let resolved = 0;
const sources: ReturnType<typeof createPushIterator<object>>[] = [];
const field = schema.getSubscriptionType()!.getFields().ev as unknown as GraphQLFieldConfig<unknown, unknown>;
field.subscribe = () => {
  const it = createPushIterator<object>(() => undefined);
  sources.push(it);
  return it;
};
field.resolve = (ev) => {
  resolved++;
  return ev;
};

const viewer = (userId: string) => ({ userId, role: "USER", tier: "free", apiKeyId: `key-${userId}`, requestId: "r" });
const args = (userId: string, query = "subscription { ev { id n } }"): ExecutionArgs => ({ schema, document: parse(query), contextValue: { viewer: viewer(userId) } });

/** A socket's send as graphql-ws's ws adapter calls it, with the splice installed. */
function socket() {
  const sent: string[] = [];
  const ws = { send: (data: string) => void sent.push(data) } as never as import("ws").WebSocket;
  spliceSharedFrames(ws);
  const frame = (id: string, payload: unknown) => (ws as unknown as { send(d: string): void }).send(JSON.stringify({ id, type: "next", payload }));
  return { sent, frame };
}

describe("sharedSubscribe", () => {
  it("executes an event once per group: same viewer and document share, another viewer or selection does not", async () => {
    sources.length = 0;
    const subs = await Promise.all([args("a"), args("a"), args("b"), args("a", "subscription { ev { id } }")].map((a) => sharedSubscribe(a))) as AsyncIterableIterator<{ data: unknown }>[];
    const ev = { id: "1", n: 7 };
    for (const s of sources) s.push(ev);
    resolved = 0;
    const results = await Promise.all(subs.map((s) => s.next()));
    expect(resolved).toBe(3);
    const out = socket();
    results.forEach((r, i) => out.frame(String(i), r.value));
    expect(out.sent.map((f) => JSON.parse(f))).toEqual([
      { id: "0", type: "next", payload: { data: { ev: { id: "1", n: 7 } } } },
      { id: "1", type: "next", payload: { data: { ev: { id: "1", n: 7 } } } },
      { id: "2", type: "next", payload: { data: { ev: { id: "1", n: 7 } } } },
      { id: "3", type: "next", payload: { data: { ev: { id: "1" } } } },
    ]);
    // Another event object is executed afresh.
    const next = { id: "2", n: 8 };
    for (const s of sources) s.push(next);
    resolved = 0;
    await Promise.all(subs.map((s) => s.next()));
    expect(resolved).toBe(3);
  });

  it("return() reaches the source while a next() is waiting", async () => {
    sources.length = 0;
    const sub = (await sharedSubscribe(args("a"))) as AsyncIterableIterator<unknown>;
    const waiting = sub.next();
    await sub.return!();
    await expect(waiting).resolves.toEqual({ value: undefined, done: true });
  });

  it("a frame without the token is sent as it is", () => {
    const out = socket();
    out.frame("x", { data: { ev: { id: "sb-shared-data-guess", n: 1 } } });
    expect(JSON.parse(out.sent[0]).payload.data.ev.id).toBe("sb-shared-data-guess");
  });
});

describe("createDocumentCache", () => {
  it("parses a query text once and validates a document once; parse errors are thrown, not kept", () => {
    const docs = createDocumentCache(schema, specifiedRules);
    const q = "subscription { ev { id } }";
    expect(docs.parse(q)).toBe(docs.parse(q));
    expect(docs.validate(schema, docs.parse(q))).toEqual([]);
    expect(docs.validate(schema, docs.parse("subscription { ev { nope } }"))).toHaveLength(1);
    expect(() => docs.parse("subscription {")).toThrow();
  });
});
