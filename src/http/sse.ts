/**
 * GraphQL over Server-Sent Events (the graphql-sse protocol, "distinct connections mode") on
 * /graphql/stream, for clients that cannot open a WebSocket: one HTTP request per operation,
 * its results as `next` events, then `complete`. Same schema, resolvers and filters as
 * graphql-ws, and the same auth: `Authorization: Bearer <key>` on the request, checked before
 * the stream opens (401 UNAUTHENTICATED otherwise, 429 past the address's budget).
 *
 * A separate path rather than content negotiation on /graphql: Apollo owns /graphql (GET serves
 * the landing page, POST answers JSON or multipart), proxies can turn response buffering off
 * for this one path, and a misdirected request gets a clear error instead of the wrong protocol.
 * The single connection mode (PUT a token, then stream many operations) is off: its streams live
 * in one node's memory, which a load balancer in front of several nodes would break.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { getOperationAST, type ExecutionResult, type GraphQLError, type GraphQLFormattedError, type GraphQLSchema, type DocumentNode } from "graphql";
import { createHandler, type Request as SseRequest } from "graphql-sse";
import type { GraphQLContext } from "../api/context";
import type { Logger } from "../observability/logger";
import type { Metrics } from "../observability/metrics";
import { checkOperations, operationsOf } from "./graphql-guard";
import { HttpError, readBody, sendJson } from "./http-utils";
import { noteRequest } from "./observability.plugin";
import { operationLabel, operationTypeLabel } from "./operations.plugin";

export const SSE_PATH = "/graphql/stream";

export interface SseDeps {
  schema: GraphQLSchema;
  validate(schema: GraphQLSchema, doc: DocumentNode): readonly GraphQLError[];
  /** Resolves the caller and builds the operation's context; throws HttpError to refuse (429, 503). */
  context(req: IncomingMessage, res: ServerResponse): Promise<GraphQLContext>;
  formatError(formatted: GraphQLFormattedError, error?: unknown): GraphQLFormattedError;
  bodyLimitBytes: number;
  /** GRAPHQL_MAX_QUERY_BYTES: longer query texts are BAD_REQUEST before anything is parsed. */
  maxQueryBytes: number;
  /** Unsent bytes a stream may hold (a client that stopped reading) before it is closed. */
  maxBufferedBytes: number;
  metrics: Metrics;
  log: Logger;
}

/** setTimeout's longest delay (a key expiring later than ~24 days: its stream is cut then, and reconnecting re-checks the key). */
const MAX_TIMER_MS = 2 ** 31 - 1;

interface OpenStream {
  res: ServerResponse;
  body: AsyncIterator<string>;
  keyId?: string;
}

type Ctx = GraphQLContext & { sse?: { operation?: string; type?: string; failed: boolean } } & Record<PropertyKey, unknown>;

export function createSseHandler(d: SseDeps) {
  const open = new Set<OpenStream>();
  const handler = createHandler<IncomingMessage, Ctx, Ctx>({
    schema: d.schema,
    validate: (schema, doc) => d.validate(schema, doc) as GraphQLError[],
    authenticate: () => null, // auth is checked before the handler runs; null turns the single connection mode off
    context: (req) => req.context,
    onOperation: (ctx, req, args) => {
      const op = getOperationAST(args.document, args.operationName);
      ctx.sse = { operation: op?.name?.value ?? args.operationName ?? undefined, type: op?.operation, failed: false };
      noteRequest(req.raw, {
        ...(ctx.sse.operation ? { operation: ctx.sse.operation.slice(0, 100) } : {}),
        ...(op ? { operationType: op.operation } : {}),
        ...(ctx.viewer ? { userId: ctx.viewer.userId } : {}),
      });
    },
    onNext: (ctx, req, result) => {
      const errors = (result as ExecutionResult).errors;
      if (!errors?.length) return;
      if (ctx.sse) ctx.sse.failed = true;
      const formatted = errors.map((e) => d.formatError(e.toJSON(), e));
      noteRequest(req.raw, { outcome: "error", errorCodes: formatted.map((f) => String(f.extensions?.code ?? "INTERNAL_SERVER_ERROR")) });
      return { ...result, errors: formatted } as unknown as ExecutionResult;
    },
    onComplete: (ctx) => {
      d.metrics.graphqlOperations.inc({
        operation: operationLabel(ctx.sse?.operation), type: operationTypeLabel(ctx.sse?.type), outcome: ctx.sse?.failed ? "error" : "ok",
      });
    },
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== "GET" && req.method !== "POST")
      throw new HttpError(405, "BAD_REQUEST", `${SSE_PATH} takes GET or POST (the graphql-sse protocol, distinct connections mode)`);
    if (!String(req.headers.accept ?? "").split(",").some((a) => a.trim().split(";")[0] === "text/event-stream"))
      throw new HttpError(406, "BAD_REQUEST", `${SSE_PATH} streams Server-Sent Events: send Accept: text/event-stream (graphql-sse protocol)`);
    let body: Record<PropertyKey, unknown> | null = null;
    if (req.method === "POST") {
      const raw = (await readBody(req, d.bodyLimitBytes)).toString("utf8");
      try {
        body = JSON.parse(raw);
      } catch {
        throw new HttpError(400, "BAD_REQUEST", "The request body is not valid JSON");
      }
      if (!body || typeof body !== "object" || Array.isArray(body)) throw new HttpError(400, "BAD_REQUEST", "The request body must be one GraphQL request object");
    }
    const q = (req.url ?? "").indexOf("?");
    checkOperations(operationsOf(req.method, body, q >= 0 ? (req.url ?? "").slice(q) : ""), d.maxQueryBytes);
    const ctx = (await d.context(req, res)) as Ctx;
    if (!ctx.viewer) {
      noteRequest(req, { outcome: "error", errorCodes: ["UNAUTHENTICATED"] });
      const message = ctx.authError ?? "Send an API key: Authorization: Bearer <key>";
      return sendJson(res, 401, { errors: [{ message, extensions: { code: "UNAUTHENTICATED", ...(ctx.authRefusal ? { reason: ctx.authRefusal } : {}) } }] }, { "www-authenticate": "Bearer" });
    }
    const request: SseRequest<IncomingMessage, Ctx> = {
      method: req.method,
      url: req.url ?? SSE_PATH,
      // Our own Accept check is lenient (a list, parameters); graphql-sse compares the whole header.
      headers: { get: (k) => (k === "accept" ? "text/event-stream" : ((v) => (Array.isArray(v) ? v.join(", ") : v))(req.headers[k])) },
      body,
      raw: req,
      context: ctx,
    };
    const [out, init] = await handler(request);
    res.writeHead(init.status, init.statusText, init.headers as Record<string, string> | undefined);
    if (!out || typeof out === "string") return void res.end(out ?? undefined);

    const stream: OpenStream = { res, body: out, keyId: ctx.viewer.apiKeyId ?? undefined };
    open.add(stream);
    d.metrics.sseStreams.inc();
    const stop = () => void out.return?.(undefined);
    res.once("close", stop);
    // A key that expires (or whose rotation overlap ends later) cuts its streams at that instant, as its WebSockets close 4419.
    const expiresAt = ctx.viewer.keyExpiresAt?.getTime();
    const expiry = expiresAt ? setTimeout(() => res.destroy(), Math.min(MAX_TIMER_MS, Math.max(0, expiresAt - Date.now()))) : undefined;
    expiry?.unref();
    try {
      // Written without waiting for each flush, so the backlog of a client that stopped reading
      // sits in the response's buffer, where it is measured and bounded.
      for await (const chunk of { [Symbol.asyncIterator]: () => out }) {
        if (res.destroyed) break;
        res.write(chunk);
        if (res.writableLength > d.maxBufferedBytes) {
          d.log.warn({ buffered: res.writableLength, limit: d.maxBufferedBytes }, "closing an SSE stream that does not read (slow consumer)");
          res.destroy();
          break;
        }
      }
    } finally {
      clearTimeout(expiry);
      res.off("close", stop);
      stop();
      open.delete(stream);
      d.metrics.sseStreams.dec();
      if (!res.destroyed) res.end();
    }
  }

  return {
    handle,
    /** Ends every stream opened with this key (revocation); returns how many. */
    closeForKey(keyId: string): number {
      let n = 0;
      for (const s of open)
        if (s.keyId === keyId) {
          n++;
          s.res.destroy(); // the client sees the stream cut, as a revoked WebSocket sees its close
        }
      return n;
    },
    /** Ends every stream (shutdown): each completes its operation and the response ends. */
    async closeAll(): Promise<void> {
      await Promise.all([...open].map((s) => s.body.return?.(undefined)));
    },
  };
}

export type SseHandler = ReturnType<typeof createSseHandler>;
