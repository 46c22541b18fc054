/**
 * One http.Server: Apollo (POST/GET /graphql), graphql-ws on the same path, /files,
 * /healthz, /readyz and /metrics. Apollo is served from a plain node:http handler
 * (executeHTTPGraphQLRequest): measured faster than express 5 here (see bench/).
 */
import http from "node:http";
import { randomUUID } from "node:crypto";
import { ApolloServer, HeaderMap } from "@apollo/server";
import { ApolloServerPluginDrainHttpServer } from "@apollo/server/plugin/drainHttpServer";
import { ApolloServerPluginLandingPageDisabled } from "@apollo/server/plugin/disabled";
import { ApolloServerPluginLandingPageLocalDefault } from "@apollo/server/plugin/landingPage/default";
import { ApolloArmor } from "@escape.tech/graphql-armor";
import compression from "compression";
import cors from "cors";
import { GraphQLError, specifiedRules, validate, type GraphQLSchema } from "graphql";
import helmet from "helmet";
import { useServer } from "graphql-ws/use/ws";
import { WebSocketServer, type WebSocket } from "ws";
import type { GraphQLContext } from "../api/context";
import type { Services } from "../api/services";
import type { AppConfig } from "../config/config";
import type { Viewer } from "../domain/viewer";
import type { Logger } from "../observability/logger";
import type { Metrics } from "../observability/metrics";
import type { BlobStore } from "../storage/blob-store";
import { filesHandler } from "./files.route";
import { providerWebhooksHandler } from "./provider-webhooks.route";
import { createFormatError } from "./format-error";
import { clientAddress, HttpError, listenOn, readBody, runMiddleware, sendJson, type Middleware } from "./http-utils";
import { boundedDocumentStore, checkOperations, guardPlugin, MAX_QUERY_TOKENS, operationsOf, persistedQueries } from "./graphql-guard";
import { subscriptionTransportsMessage } from "./subscription-transports";
import { isStoreUnavailable, STORE_RETRY_AFTER_SECONDS } from "./unavailable";
import type { AuthenticatedKey } from "../domain/auth/api-key.service";
import { AuthRateLimitedError } from "../domain/auth/auth-throttle";
import { operationsPlugin } from "./operations.plugin";
import { createRequestLogger, observabilityPlugin, requestIdFor, requestOfHeaders } from "./observability.plugin";
import { httpServerSpan } from "../observability/tracing";
import { probesHandler, type Probes } from "./probes";
import { graphiqlHandler } from "./graphiql.route";
import { createSseHandler, SSE_PATH } from "./sse";
import { WS_AUTH_CLOSE } from "./ws-auth";

export interface HttpDeps {
  config: AppConfig;
  schema: GraphQLSchema;
  services: Services;
  blobs: BlobStore;
  log: Logger;
  metrics: Metrics;
  probes: Probes;
  /** Wakes a generation's delayed job (provider completion webhooks). */
  promoteJob(generationId: string): Promise<boolean>;
}

export interface HttpServer {
  server: http.Server;
  listen(): Promise<number>;
  /** Closes every WebSocket and SSE stream authenticated with this key (revocation); returns how many. */
  closeSocketsForKey(keyId: string): number;
  close(): Promise<void>;
}

/** Who sent an HTTP request: the key presented (if any) and what it resolved to. */
type Caller = { key?: string; auth: AuthenticatedKey | null };

type SocketExtra = {
  viewer?: Viewer;
  socket: WebSocket;
  request: http.IncomingMessage;
  [k: string]: unknown;
};

const bearer = (h: unknown): string | undefined => {
  if (typeof h !== "string") return undefined;
  const m = /^Bearer\s+(.+)$/i.exec(h.trim());
  return m ? m[1].trim() : h.trim() || undefined;
};

/**
 * Coalesces the frames sent to one socket in the same event-loop turn into one TCP write:
 * a subscriber of many busy generations gets one syscall per turn, not one per event.
 */
function corkPerTurn(ws: WebSocket): void {
  const raw = (ws as unknown as { _socket?: import("node:net").Socket })._socket;
  if (!raw) return;
  const send = ws.send.bind(ws) as (...args: unknown[]) => void;
  let corked = false;
  ws.send = ((...args: unknown[]) => {
    if (!corked) {
      corked = true;
      raw.cork();
      setImmediate(() => {
        corked = false;
        raw.uncork();
      });
    }
    send(...args);
  }) as WebSocket["send"];
}

/**
 * Bounds what a socket may hold unsent. graphql-ws waits for each frame to be flushed before it
 * pulls the next event, so a reader that stops reading would pile events up in the subscription's
 * queue, where nothing measures them. Releasing the sender at once moves the backlog into the
 * socket's buffer (bufferedAmount); past `limit` bytes the socket is closed with 1013.
 */
function boundSendBuffer(ws: WebSocket, limit: number, onSlow: (buffered: number) => void): void {
  const send = ws.send.bind(ws) as (data: unknown, opts: object, cb?: (err?: Error) => void) => void;
  ws.send = ((data: unknown, opts?: object | ((err?: Error) => void), cb?: (err?: Error) => void) => {
    const done = typeof opts === "function" ? opts : cb;
    if (ws.readyState === ws.OPEN && ws.bufferedAmount > limit) {
      onSlow(ws.bufferedAmount);
      ws.close(1013, `Slow consumer: more than ${limit} bytes unsent (WS_MAX_BUFFERED_BYTES)`);
    }
    if (ws.readyState !== ws.OPEN) return void done?.();
    send(data, typeof opts === "object" ? opts : {});
    if (done) queueMicrotask(() => done());
  }) as WebSocket["send"];
}

export async function createHttpServer(d: HttpDeps): Promise<HttpServer> {
  const { config, services, log } = d;
  const server = http.createServer();
  const production = config.env === "production";
  const armor = new ApolloArmor({
    maxDepth: { n: config.limits.maxDepth },
    maxAliases: { n: config.limits.maxAliases },
    maxDirectives: { n: config.limits.maxDirectives },
    costLimit: { maxCost: config.limits.maxCost },
    // graphql-armor's maxTokens parses every document a second time and its rejection surfaces as
    // HTTP 500; graphql-js counts tokens in Apollo's own parse instead (parseOptions below).
    maxTokens: { enabled: false },
    blockFieldSuggestion: { enabled: production },
  }).protect();

  // --- WebSocket subscriptions (graphql-ws) on the same path ---
  // noServer: upgrades are routed here by hand, so the http.Server's own errors (EADDRINUSE) stay
  // with listen() instead of being re-emitted (and logged) by the WebSocket server.
  const wss = new WebSocketServer({ noServer: true, maxPayload: config.limits.wsMaxPayloadBytes });
  server.on("upgrade", (req, socket, head) => {
    if ((req.url ?? "").split("?")[0] !== "/graphql") return void socket.destroy();
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit("connection", ws, req));
  });
  const socketsByKey = new Map<string, Set<WebSocket>>();
  wss.on("connection", corkPerTurn);
  wss.on("connection", (ws: WebSocket) =>
    boundSendBuffer(ws, config.limits.wsMaxBufferedBytes, (buffered) => log.warn({ buffered, limit: config.limits.wsMaxBufferedBytes }, "closing a WebSocket that does not read (slow consumer)")),
  );
  const wsServer = useServer<Record<string, unknown>, SocketExtra>(
    {
      schema: d.schema,
      validate: (schema, doc) => validate(schema, doc, [...specifiedRules, ...armor.validationRules]),
      onConnect: async (ctx) => {
        const key = bearer(ctx.connectionParams?.authorization ?? ctx.connectionParams?.Authorization);
        const from = clientAddress(ctx.extra.request, config.http.trustProxyHops);
        let auth: AuthenticatedKey | null;
        try {
          auth = key ? await services.apiKeys.authenticate(key, from) : (await services.apiKeys.anonymous(from), null);
        } catch (e) {
          // Try again later (1013): the address is past its budget, or Postgres cannot be reached.
          if (e instanceof AuthRateLimitedError) ctx.extra.socket.close(1013, e.message.slice(0, 120));
          else if (isStoreUnavailable(e)) ctx.extra.socket.close(1013, `A data store is unavailable; retry in ${STORE_RETRY_AFTER_SECONDS}s`);
          else throw e;
          return false;
        }
        if (!auth) {
          // One close code per cause (ws-auth.ts); graphql-ws's own 4403 that follows is ignored on a closing socket.
          const refused = WS_AUTH_CLOSE[key ? await services.apiKeys.refusal(key) : "missing"];
          ctx.extra.socket.close(refused.code, refused.reason);
          return false;
        }
        ctx.extra.viewer = { userId: auth.user.id, role: auth.user.role, tier: auth.user.tier, apiKeyId: auth.keyId, requestId: randomUUID() };
        let set = socketsByKey.get(auth.keyId);
        if (!set) socketsByKey.set(auth.keyId, (set = new Set()));
        set.add(ctx.extra.socket);
        d.metrics.wsConnections.inc();
        return true;
      },
      onSubscribe: (ctx, _id, payload) => {
        if (typeof payload.query === "string" && Buffer.byteLength(payload.query) > config.limits.maxQueryBytes)
          return [new GraphQLError(`The query text is longer than ${config.limits.maxQueryBytes} bytes (GRAPHQL_MAX_QUERY_BYTES)`, { extensions: { code: "BAD_REQUEST", limit: config.limits.maxQueryBytes } })];
        // graphql-ws registers the operation being subscribed before this hook runs.
        if (Object.keys(ctx.subscriptions).length > config.limits.wsMaxSubscriptions)
          return [new GraphQLError(`at most ${config.limits.wsMaxSubscriptions} subscriptions per socket`, { extensions: { code: "TOO_MANY_SUBSCRIPTIONS" } })];
        return undefined;
      },
      onClose: (ctx) => {
        const keyId = ctx.extra.viewer?.apiKeyId;
        if (ctx.extra.viewer) d.metrics.wsConnections.dec();
        if (keyId) socketsByKey.get(keyId)?.delete(ctx.extra.socket);
      },
      context: (ctx): GraphQLContext => {
        const requestId = randomUUID();
        const viewer = ctx.extra.viewer ? { ...ctx.extra.viewer, requestId } : null;
        return { viewer, requestId, services, loaders: services.newLoaders(), log: log.child({ requestId }) };
      },
    },
    wss,
  );

  // --- Apollo over express 5 ---
  const apollo = new ApolloServer<GraphQLContext>({
    schema: d.schema,
    introspection: config.http.introspection,
    csrfPrevention: true,
    stopOnTerminationSignals: false, // main.ts owns SIGTERM: drain HTTP, then the workers
    parseOptions: { maxTokens: MAX_QUERY_TOKENS },
    documentStore: boundedDocumentStore(config.limits.documentCacheBytes),
    persistedQueries: persistedQueries(config.limits.persistedQueryCacheBytes),
    ...armor,
    formatError: createFormatError({ production }),
    plugins: [
      ...armor.plugins,
      ApolloServerPluginDrainHttpServer({ httpServer: server }),
      { async serverWillStart() { return { async drainServer() { await wsServer.dispose(); } }; } },
      operationsPlugin(d.metrics),
      guardPlugin(() => subscriptionTransportsMessage(config.http.publicUrl)),
      observabilityPlugin(),
      config.http.introspection ? ApolloServerPluginLandingPageLocalDefault({ embed: true, includeCookies: false }) : ApolloServerPluginLandingPageDisabled(),
    ],
  });
  await apollo.start();

  const security = helmet({ contentSecurityPolicy: false, crossOriginEmbedderPolicy: false }) as Middleware;
  const graphqlChain: Middleware[] = [
    security,
    cors(config.http.corsOrigins === "*" ? {} : { origin: config.http.corsOrigins }) as Middleware,
    compression() as unknown as Middleware,
  ];
  const probes = probesHandler(d.probes, d.metrics);
  const files = filesHandler(d.blobs, services.filesSecret, config.files.urlTtlSeconds);
  const providerWebhooks = providerWebhooksHandler({
    ds: services.generations.dataSource, secret: config.providers.replicateWebhookSecret, promote: d.promoteJob, log,
  });

  /**
   * Resolves the caller before anything is parsed: a valid key, or none within the client
   * address's budget for requests without a valid key (then 429 RATE_LIMITED, no lookup, no parse).
   */
  const authenticate = async (req: http.IncomingMessage): Promise<Caller> => {
    const key = bearer(req.headers.authorization);
    const from = clientAddress(req, config.http.trustProxyHops);
    try {
      if (!key) return (await services.apiKeys.anonymous(from), { auth: null });
      return { key, auth: await services.apiKeys.authenticate(key, from) };
    } catch (e) {
      if (e instanceof AuthRateLimitedError)
        throw new HttpError(429, "RATE_LIMITED", e.message, { limit: e.limit, window: "minute", retryAfterSeconds: e.retryAfterSeconds }, { "retry-after": String(e.retryAfterSeconds) });
      if (isStoreUnavailable(e))
        throw new HttpError(503, "SERVICE_UNAVAILABLE", `A data store is unavailable; retry in ${STORE_RETRY_AFTER_SECONDS}s`, { retryAfterSeconds: STORE_RETRY_AFTER_SECONDS }, { "retry-after": String(STORE_RETRY_AFTER_SECONDS) });
      throw e;
    }
  };

  const context = async (req: http.IncomingMessage, res: http.ServerResponse, { key, auth }: Caller): Promise<GraphQLContext> => {
    // pino-http gave the request its id (the caller's x-request-id or a fresh one) and echoed it.
    const requestId = String((req as { id?: unknown }).id ?? requestIdFor(req, res));
    const viewer: Viewer | null = auth
      ? { userId: auth.user.id, role: auth.user.role, tier: auth.user.tier, apiKeyId: auth.keyId, requestId }
      : null;
    return {
      viewer, requestId, services, loaders: services.newLoaders(),
      log: log.child({ requestId, ...(auth ? { userId: auth.user.id } : {}) }),
      ...(key && !auth ? { authError: "The API key is invalid or has been revoked" } : {}),
    };
  };
  const requestLog = createRequestLogger(log);
  const graphiql = config.http.introspection ? graphiqlHandler() : undefined; // like the landing page
  const sse = createSseHandler({
    schema: d.schema,
    validate: (schema, doc) => validate(schema, doc, [...specifiedRules, ...armor.validationRules]),
    context: async (req, res) => context(req, res, await authenticate(req)),
    formatError: createFormatError({ production }),
    bodyLimitBytes: config.http.bodyLimitBytes,
    maxQueryBytes: config.limits.maxQueryBytes,
    maxBufferedBytes: config.limits.wsMaxBufferedBytes,
    metrics: d.metrics,
    log,
  });

  const graphql = async (req: http.IncomingMessage, res: http.ServerResponse, search: string) => {
    if (!(await runMiddleware(graphqlChain, req, res))) return; // e.g. a CORS preflight was answered
    let body: unknown;
    if (req.method === "POST") {
      const raw = await readBody(req, config.http.bodyLimitBytes);
      const type = req.headers["content-type"] ?? "";
      if (type.includes("application/json") && raw.length) {
        try {
          body = JSON.parse(raw.toString("utf8"));
        } catch {
          throw new HttpError(400, "BAD_REQUEST", "The request body is not valid JSON");
        }
      } else body = raw.toString("utf8");
    }
    const ops = operationsOf(req.method ?? "GET", body, search);
    checkOperations(ops, config.limits.maxQueryBytes);
    const caller: Caller = ops.length ? await authenticate(req) : { auth: null }; // nothing to parse: the landing page, or Apollo's 400
    const headers = new HeaderMap();
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(", ") : v);
    requestOfHeaders.set(headers, req); // the plugin finds the request (for its log line) through Apollo's request.http
    const result = await apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: { method: req.method ?? "GET", headers, search, body },
      context: () => context(req, res, caller),
    });
    res.statusCode = result.status ?? 200;
    for (const [k, v] of result.headers) res.setHeader(k, v);
    if (result.body.kind === "complete") return void res.end(result.body.string);
    for await (const chunk of result.body.asyncIterator) res.write(chunk);
    res.end();
  };

  server.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => {
    requestLog(req, res);
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const path = q >= 0 ? url.slice(0, q) : url;
    const search = q >= 0 ? url.slice(q) : "";
    const handle = async () => {
      if (path === "/graphql") return httpServerSpan(req, res, path, () => graphql(req, res, search));
      if (path === SSE_PATH)
        return httpServerSpan(req, res, path, async () => {
          // helmet and CORS, not compression: it would hold events back.
          if (await runMiddleware(graphqlChain.slice(0, 2), req, res)) await sse.handle(req, res);
        });
      if (graphiql?.(path, req, res)) return;
      if (path.startsWith("/files/")) {
        await runMiddleware([security], req, res);
        return files(path, req, res);
      }
      if (path.startsWith("/webhooks/providers/")) {
        await runMiddleware([security], req, res);
        if (await providerWebhooks(path, req, res)) return;
      }
      if (!(await probes(path, req, res))) sendJson(res, 404, { errors: [{ message: `Cannot ${req.method} ${path}`, extensions: { code: "NOT_FOUND" } }] });
    };
    handle().catch((err: unknown) => {
      // Body too large, malformed JSON, …: a clear JSON error, never a stack trace.
      const e = err instanceof HttpError ? err : new HttpError(500, "INTERNAL_SERVER_ERROR", "Internal server error");
      if (!(err instanceof HttpError)) log.error({ err }, "http error");
      if (res.headersSent) return void res.destroy();
      res.removeHeader("content-encoding");
      sendJson(res, e.status, { errors: [{ message: e.message, extensions: { code: e.code, ...e.extensions } }] }, e.headers);
    });
  });

  return {
    server,
    listen: () => listenOn(server, config.http.port, config.http.host, "PORT"),
    closeSocketsForKey(keyId) {
      const set = socketsByKey.get(keyId);
      const streams = sse.closeForKey(keyId);
      if (!set) return streams;
      for (const s of set) s.close(WS_AUTH_CLOSE.revoked.code, WS_AUTH_CLOSE.revoked.reason);
      socketsByKey.delete(keyId);
      return set.size + streams;
    },
    async close() {
      await sse.closeAll(); // open streams end their operations; the drain below then has no long requests to wait for
      await apollo.stop(); // drains HTTP and disposes graphql-ws
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
    },
  };
}
