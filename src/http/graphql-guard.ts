/**
 * What stands between an HTTP GraphQL request and Apollo's parser: caches bounded by the
 * bytes they really hold, a cap on the query text, a persisted-query hash check with its own
 * code, and the plugin that answers subscriptions sent over HTTP and store outages properly.
 */
import type { ApolloServerPlugin, BaseContext } from "@apollo/server";
import { InMemoryLRUCache } from "@apollo/utils.keyvaluecache";
import { GraphQLError, type DocumentNode } from "graphql";
import { sha256Hex } from "../common/ids";
import { HttpError, queryParams } from "./http-utils";

/** Most lexical tokens a document may have (graphql-js `maxTokens`: a syntax error, HTTP 400). */
export const MAX_QUERY_TOKENS = 5000;

/**
 * Heap an entry of the document cache keeps alive. Apollo's default sizes a document by
 * `JSON.stringify`, which leaves out the source text every `loc` retains (900 KB of padding
 * counted as 300 bytes) and the token objects; a parsed AST measured ~4x its JSON here.
 */
export function documentSize(doc: DocumentNode): number {
  return 4 * JSON.stringify(doc).length + (doc.loc?.source.body.length ?? 0);
}

/** Apollo's parsed-and-validated document cache, bounded by {@link documentSize}. */
export function boundedDocumentStore(maxBytes: number): InMemoryLRUCache<DocumentNode> {
  return new InMemoryLRUCache<DocumentNode>({ maxSize: maxBytes, sizeCalculation: documentSize });
}

/** Automatic persisted queries: texts kept per node, by length (0: APQ off). */
export function persistedQueries(maxBytes: number): { cache: InMemoryLRUCache<string> } | false {
  return maxBytes > 0 ? { cache: new InMemoryLRUCache<string>({ maxSize: maxBytes, sizeCalculation: (q: string) => q.length }) } : false;
}

interface Operation {
  query?: unknown;
  extensions?: { persistedQuery?: { sha256Hash?: unknown } };
}

/** The operations of a POST body (one or a batch) or a GET query string. */
export function operationsOf(method: string, body: unknown, search: string): Operation[] {
  if (method === "GET") {
    const p = queryParams(search);
    let extensions: Operation["extensions"];
    try {
      extensions = p.has("extensions") ? JSON.parse(p.get("extensions")!) : undefined;
    } catch {
      extensions = undefined; // Apollo answers the malformed parameter
    }
    return p.has("query") || extensions ? [{ query: p.get("query") ?? undefined, extensions }] : [];
  }
  const list = Array.isArray(body) ? body : [body];
  return list.filter((o): o is Operation => !!o && typeof o === "object" && ("query" in o || "extensions" in o));
}

/** Refuses, before anything parses it, a query text over the cap or a persisted-query hash that is not its hash. */
export function checkOperations(ops: Operation[], maxQueryBytes: number): void {
  for (const op of ops) {
    if (typeof op.query !== "string") continue;
    // A UTF-8 byte is at most 3 per UTF-16 unit: only long texts need counting.
    const bytes = op.query.length * 3 <= maxQueryBytes ? op.query.length : Buffer.byteLength(op.query);
    if (bytes > maxQueryBytes)
      throw new HttpError(400, "BAD_REQUEST", `The query text is ${bytes} bytes; at most ${maxQueryBytes} are accepted (GRAPHQL_MAX_QUERY_BYTES)`, { limit: maxQueryBytes, bytes });
    const hash = op.extensions?.persistedQuery?.sha256Hash;
    if (typeof hash === "string" && hash !== sha256Hex(op.query))
      throw new HttpError(400, "PERSISTED_QUERY_HASH_MISMATCH", "extensions.persistedQuery.sha256Hash is not the SHA-256 of the query text that came with it");
  }
}

/**
 * Subscriptions sent over HTTP are BAD_REQUEST naming where they are served; a store outage
 * (SERVICE_UNAVAILABLE with retryAfterSeconds, see format-error.ts) is HTTP 503 with Retry-After.
 */
export function guardPlugin<C extends BaseContext>(subscriptionsMessage: () => string): ApolloServerPlugin<C> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation(rc) {
          if (rc.operation?.operation === "subscription")
            throw new GraphQLError(subscriptionsMessage(), { extensions: { code: "BAD_REQUEST", http: { status: 400 } } });
        },
        async willSendResponse(rc) {
          const body = rc.response.body;
          if (body.kind !== "single") return;
          const outage = body.singleResult.errors?.find((e) => e.extensions?.code === "SERVICE_UNAVAILABLE" && typeof e.extensions.retryAfterSeconds === "number");
          if (!outage) return;
          rc.response.http.status = 503;
          rc.response.http.headers.set("retry-after", String(outage.extensions!.retryAfterSeconds));
        },
      };
    },
  };
}
