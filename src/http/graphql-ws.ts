/**
 * GraphQL over WebSocket (graphql-ws) on the HTTP server's /graphql path: key check at connect
 * (one close code per cause), per-socket limits, frames coalesced per turn, and the slow-consumer
 * guard, and per-event work shared by the subscribers of one event (shared-execution.ts). Keeps the
 * open sockets by API key so a revocation can close them.
 */
import type http from "node:http";
import { randomUUID } from "node:crypto";
import { GraphQLError, type GraphQLSchema, type ValidationRule } from "graphql";
import { useServer } from "graphql-ws/use/ws";
import { WebSocketServer, type WebSocket } from "ws";
import type { GraphQLContext } from "../api/context";
import type { Services } from "../api/services";
import type { AppConfig } from "../config/config";
import type { Viewer } from "../domain/viewer";
import type { AuthenticatedKey, KeyRefusal } from "../domain/auth/api-key.service";
import { AuthRateLimitedError } from "../domain/auth/auth-throttle";
import type { Logger } from "../observability/logger";
import type { Metrics } from "../observability/metrics";
import { viewerOf, type Authenticate } from "./auth";
import { isStoreUnavailable, STORE_RETRY_AFTER_SECONDS } from "./unavailable";
import { WS_AUTH_CLOSE, type WsAuthRefusal } from "./ws-auth";
import { createDocumentCache, sharedSubscribe, spliceSharedFrames } from "./shared-execution";

/** setTimeout's longest delay; a later expiry re-arms the timer. */
const MAX_TIMER_MS = 2_147_483_647;

type SocketExtra = {
  viewer?: Viewer;
  socket: WebSocket;
  request: http.IncomingMessage;
  [k: string]: unknown;
};

export interface GraphqlWsDeps {
  server: http.Server;
  schema: GraphQLSchema;
  /** The document rules every transport applies (graphql-js's and graphql-armor's). */
  validationRules: readonly ValidationRule[];
  config: AppConfig;
  services: Services;
  authenticate: Authenticate;
  log: Logger;
  metrics: Metrics;
}

export interface GraphqlWs {
  /** Completes every subscription and closes the sockets (graphql-ws's dispose). */
  dispose(): Promise<void>;
  /** Closes the sockets authenticated with this key (revoked, or why else it stopped); returns how many. */
  closeForKey(keyId: string, why?: WsAuthRefusal): number;
  /** Closes this key's open sockets (4419 expired) at `at` (now if past); sockets opened later carry their own timer. */
  expireForKey(keyId: string, at: Date): number;
  /** Terminates whatever is still open and closes the WebSocket server. */
  close(): Promise<void>;
}

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

export function createGraphqlWs(d: GraphqlWsDeps): GraphqlWs {
  const { config, services, log } = d;
  // noServer: upgrades are routed here by hand, so the http.Server's own errors (EADDRINUSE) stay
  // with listen() instead of being re-emitted (and logged) by the WebSocket server.
  const wss = new WebSocketServer({ noServer: true, maxPayload: config.limits.wsMaxPayloadBytes });
  d.server.on("upgrade", (req, socket, head) => {
    if ((req.url ?? "").split("?")[0] !== "/graphql") return void socket.destroy();
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit("connection", ws, req));
  });
  const socketsByKey = new Map<string, Set<WebSocket>>();
  /** One timer per socket whose key expires: it is closed with 4419 at that instant. */
  const expiryTimers = new Map<WebSocket, NodeJS.Timeout>();
  const closeAtExpiry = (ws: WebSocket, at: Date | null) => {
    clearTimeout(expiryTimers.get(ws));
    expiryTimers.delete(ws);
    if (!at) return;
    const arm = () => {
      const left = at.getTime() - Date.now();
      if (left <= 0) {
        expiryTimers.delete(ws);
        return void ws.close(WS_AUTH_CLOSE.expired.code, WS_AUTH_CLOSE.expired.reason);
      }
      const t = setTimeout(arm, Math.min(left, MAX_TIMER_MS));
      t.unref();
      expiryTimers.set(ws, t);
    };
    arm();
  };
  wss.on("connection", corkPerTurn);
  wss.on("connection", (ws: WebSocket) =>
    boundSendBuffer(ws, config.limits.wsMaxBufferedBytes, (buffered) => log.warn({ buffered, limit: config.limits.wsMaxBufferedBytes }, "closing a WebSocket that does not read (slow consumer)")),
  );
  // Installed last, so it is the outermost send: the shared JSON is spliced in before anything else sees the frame.
  wss.on("connection", spliceSharedFrames);
  const docs = createDocumentCache(d.schema, d.validationRules);
  const wsServer = useServer<Record<string, unknown>, SocketExtra>(
    {
      schema: d.schema,
      parse: docs.parse,
      validate: docs.validate,
      // One execution and one serialisation per event for the subscriptions that must see the same result (shared-execution.ts).
      // A stream that ended by itself holds its `complete` for WS_COMPLETE_HOLD_MS (mapEvents: a graphql-ws client bug).
      subscribe: (args) => sharedSubscribe(args, config.limits.wsCompleteHoldMs),
      onConnect: async (ctx) => {
        const authorization = ctx.connectionParams?.authorization ?? ctx.connectionParams?.Authorization;
        let key: string | undefined;
        let auth: AuthenticatedKey | null;
        let refusal: KeyRefusal | undefined;
        try {
          ({ key, auth, refusal } = await d.authenticate(ctx.extra.request, authorization));
        } catch (e) {
          // Try again later (1013): the address is past its budget, or Postgres cannot be reached.
          if (e instanceof AuthRateLimitedError) ctx.extra.socket.close(1013, e.message.slice(0, 120));
          else if (isStoreUnavailable(e)) ctx.extra.socket.close(1013, `A data store is unavailable; retry in ${STORE_RETRY_AFTER_SECONDS}s`);
          else throw e;
          return false;
        }
        if (!auth) {
          // One close code per cause (ws-auth.ts); graphql-ws's own 4403 that follows is ignored on a closing socket.
          const refused = WS_AUTH_CLOSE[key ? (refusal ?? "invalid") : "missing"];
          ctx.extra.socket.close(refused.code, refused.reason);
          return false;
        }
        ctx.extra.viewer = viewerOf(auth, randomUUID());
        let set = socketsByKey.get(auth.keyId);
        if (!set) socketsByKey.set(auth.keyId, (set = new Set()));
        set.add(ctx.extra.socket);
        closeAtExpiry(ctx.extra.socket, auth.limits.expiresAt);
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
        closeAtExpiry(ctx.extra.socket, null);
      },
      context: (ctx): GraphQLContext => {
        const requestId = randomUUID();
        const viewer = ctx.extra.viewer ? { ...ctx.extra.viewer, requestId } : null;
        // A subscription lives long and mostly idles: its loaders and child logger are made on first use (20,000 of them add up).
        let loaders: GraphQLContext["loaders"] | undefined;
        let child: GraphQLContext["log"] | undefined;
        return {
          viewer, requestId, services,
          get loaders() {
            return (loaders ??= services.newLoaders());
          },
          get log() {
            return (child ??= log.child({ requestId }));
          },
          madeLoaders: () => loaders,
        };
      },
    },
    wss,
  );

  return {
    dispose: () => wsServer.dispose() as Promise<void>,
    closeForKey(keyId, why = "revoked") {
      const set = socketsByKey.get(keyId);
      if (!set) return 0;
      for (const s of set) s.close(WS_AUTH_CLOSE[why].code, WS_AUTH_CLOSE[why].reason);
      socketsByKey.delete(keyId);
      return set.size;
    },
    expireForKey(keyId, at) {
      const set = socketsByKey.get(keyId);
      for (const s of set ?? []) closeAtExpiry(s, at);
      return set?.size ?? 0;
    },
    async close() {
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
    },
  };
}
