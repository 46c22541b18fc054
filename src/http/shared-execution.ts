/**
 * Subscription fan-out without per-subscriber work. graphql-js executes a subscription's
 * selection once per event per subscriber, and graphql-ws serialises each result per subscriber:
 * with many subscribers of one topic (a user's dashboards and tabs, several followers of one
 * generation) a node spent its time executing and stringifying the same thing over and over.
 *
 * Here an event (the one object Redis pub/sub parsed for every listener of its channel on this
 * node) is executed once per group of subscriptions that must see exactly the same result — the
 * same viewer (user, role, tier, API key), the same document, operation and variables — and its
 * `data` is serialised once; each subscriber's frame is then spliced around that JSON. Access
 * stays per subscriber: each subscription's own source stream decides what reaches it (its
 * subscribe resolver checked the viewer, its filter picks the events), and two viewers never
 * share a result, so nothing one viewer may see reaches another.
 *
 * Parsed documents are shared too (a bounded cache by query text), and validation runs once per
 * document: 20,000 subscriptions with a handful of distinct documents hold a handful of ASTs.
 */
import { randomUUID } from "node:crypto";
import {
  createSourceEventStream, execute, GraphQLError, parse, validate,
  type DocumentNode, type ExecutionArgs, type Source, type ExecutionResult, type GraphQLSchema, type ValidationRule,
} from "graphql";
import type { WebSocket } from "ws";
import type { GraphQLContext } from "../api/context";

/** Stands for the shared JSON in the frame graphql-ws stringifies; random per process, so no client can forge it. */
const TOKEN = `sb-shared-data-${randomUUID()}`;
const QUOTED_TOKEN = JSON.stringify(TOKEN);

/**
 * A result's `data`, already serialised. graphql-ws builds `{ id, type: "next", payload: { data } }`
 * and stringifies it, then hands the string straight to the socket's send in the same synchronous
 * step (graphql-ws server `emit.next` → use/ws `send`), so the last `toJSON` call names the JSON
 * that the next frame's token stands for.
 */
class SerialisedData {
  constructor(readonly json: string) {}
  toJSON(): string {
    pending = this;
    return TOKEN;
  }
}
let pending: SerialisedData | null = null;

/** Installs the splice on a socket (outermost send wrapper): a frame with the token gets the shared JSON in its place. */
export function spliceSharedFrames(ws: WebSocket): void {
  const send = ws.send.bind(ws) as (data: unknown, ...rest: unknown[]) => void;
  ws.send = ((data: unknown, ...rest: unknown[]) => {
    const p = pending;
    pending = null;
    if (p && typeof data === "string") {
      const i = data.indexOf(QUOTED_TOKEN);
      if (i >= 0) data = data.slice(0, i) + p.json + data.slice(i + QUOTED_TOKEN.length);
    }
    send(data, ...rest);
  }) as WebSocket["send"];
}

function serialised(result: ExecutionResult): ExecutionResult {
  if (result.data == null) return result;
  return { ...result, data: new SerialisedData(JSON.stringify(result.data)) as unknown as ExecutionResult["data"] };
}

/** Per event object: the result of each group that received it (gone with the event). */
const executions = new WeakMap<object, Map<string, Promise<ExecutionResult>>>();

/**
 * A number per query text, standing for the text in a group's key: a key holding the text itself
 * cost every subscription its own copy of it (20,000 of them add up). Bounded: a text dropped from
 * here gets a new number next time, so later subscriptions of it share with each other, not with
 * the earlier ones; two texts never share a number.
 */
const queryIds = new Map<string, number>();
const MAX_QUERY_IDS = 1000;
let nextQueryId = 0;
function queryId(query: string): number {
  let id = queryIds.get(query);
  if (id === undefined) {
    queryIds.set(query, (id = nextQueryId++));
    if (queryIds.size > MAX_QUERY_IDS) queryIds.delete(queryIds.keys().next().value!);
  }
  return id;
}

/** The group of a subscription: every input its results depend on besides the event. null: execute alone. */
function groupOf(args: ExecutionArgs): string | null {
  const v = (args.contextValue as GraphQLContext | undefined)?.viewer;
  const query = args.document.loc?.source.body;
  if (!v || query === undefined) return null;
  return JSON.stringify([v.userId, v.role, v.tier, v.apiKeyId, args.operationName ?? null, args.variableValues ?? null, queryId(query)]);
}

/** What graphql-ws's `subscribe` option runs: graphql-js's subscribe, with the per-event execution shared by a group. */
export async function sharedSubscribe(args: ExecutionArgs, completeHoldMs = 0): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> {
  const stream = await createSourceEventStream(args);
  if (!(Symbol.asyncIterator in Object(stream))) return stream as ExecutionResult;
  const group = groupOf(args);
  const run = (payload: unknown): Promise<ExecutionResult> => {
    const once = () => Promise.resolve(execute({ ...args, rootValue: payload })).then(serialised);
    if (group === null || typeof payload !== "object" || payload === null) return once();
    let byGroup = executions.get(payload);
    if (!byGroup) executions.set(payload, (byGroup = new Map()));
    let r = byGroup.get(group);
    if (!r) byGroup.set(group, (r = once()));
    return r;
  };
  return mapEvents(stream as AsyncIterable<unknown>, run, completeHoldMs);
}

/**
 * graphql-js's mapAsyncIterator: return() reaches the source at once, even while a next() waits.
 *
 * A stream that ended by itself (generationUpdated after its terminal event) holds its end for
 * `holdMs`, so graphql-ws writes its `complete` frame that much later, or not at all when the
 * client disposes the subscription meanwhile (return()). graphql-ws's client (6.4.2, the newest,
 * lazy by default) loses a subscription when another is disposed in its `next` handler on its
 * last event while the server's `complete` for it is in the same read: the client releases it
 * twice, counts no open operation, closes the socket, and every other subscription on it (a
 * long-lived myGenerations) completes silently. Per-turn frame coalescing put the terminal event
 * and the complete in one write, so "dispose on the terminal event" triggered it every time.
 */
function mapEvents<T, R>(iterable: AsyncIterable<T>, fn: (v: T) => Promise<R>, holdMs = 0): AsyncIterableIterator<R> {
  const it = iterable[Symbol.asyncIterator]();
  let returned = false;
  let release: (() => void) | undefined;
  const close = async () => {
    try {
      await it.return?.();
    } catch {
      // the mapping's own error is the one to report
    }
  };
  const done = { value: undefined, done: true } as IteratorReturnResult<undefined>;
  return {
    async next() {
      const r = await it.next();
      if (r.done) {
        if (holdMs > 0 && !returned) {
          await new Promise<void>((resolve) => {
            const t = setTimeout(resolve, holdMs);
            release = () => {
              clearTimeout(t);
              resolve();
            };
          });
        }
        return done;
      }
      try {
        return { value: await fn(r.value), done: false };
      } catch (err) {
        await close();
        throw err;
      }
    },
    async return() {
      returned = true;
      release?.();
      await it.return?.();
      return done;
    },
    async throw(err: unknown) {
      returned = true;
      release?.();
      if (it.throw) await it.throw(err);
      throw err;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

/**
 * graphql-ws's `parse` and `validate` options: one AST per distinct query text (LRU, bounded by the
 * queries' total length; parse errors are not kept) and one validation per AST.
 */
export function createDocumentCache(schema: GraphQLSchema, rules: readonly ValidationRule[], maxQueryChars = 1_000_000) {
  const docs = new Map<string, DocumentNode>();
  let chars = 0;
  const checked = new WeakMap<DocumentNode, readonly GraphQLError[]>();
  return {
    parse(source: string | Source): DocumentNode {
      if (typeof source !== "string") return parse(source);
      const query = source;
      const hit = docs.get(query);
      if (hit) {
        docs.delete(query);
        docs.set(query, hit);
        return hit;
      }
      const doc = parse(query);
      if (query.length <= maxQueryChars / 4) {
        docs.set(query, doc);
        chars += query.length;
        for (const [q] of docs) {
          if (chars <= maxQueryChars) break;
          docs.delete(q);
          chars -= q.length;
        }
      }
      return doc;
    },
    validate(s: GraphQLSchema, doc: DocumentNode): readonly GraphQLError[] {
      if (s !== schema) return validate(s, doc, rules);
      let errors = checked.get(doc);
      if (!errors) checked.set(doc, (errors = validate(s, doc, rules)));
      return errors;
    },
  };
}
