/**
 * One http.Server: Apollo (POST/GET /graphql), graphql-ws on the same path, /files,
 * /healthz, /readyz and /metrics.
 */
import http from "node:http";
import { randomUUID } from "node:crypto";
import { ApolloServer } from "@apollo/server";
import { ApolloServerPluginDrainHttpServer } from "@apollo/server/plugin/drainHttpServer";
import { ApolloServerPluginLandingPageDisabled } from "@apollo/server/plugin/disabled";
import { ApolloServerPluginLandingPageLocalDefault } from "@apollo/server/plugin/landingPage/default";
import { expressMiddleware } from "@as-integrations/express5";
import { ApolloArmor } from "@escape.tech/graphql-armor";
import compression from "compression";
import cors from "cors";
import express from "express";
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
import { createFormatError } from "./format-error";
import { operationsPlugin } from "./operations.plugin";
import { probesRouter, type Probes } from "./probes";

export interface HttpDeps {
  config: AppConfig;
  schema: GraphQLSchema;
  services: Services;
  blobs: BlobStore;
  log: Logger;
  metrics: Metrics;
  probes: Probes;
}

export interface HttpServer {
  server: http.Server;
  listen(): Promise<number>;
  /** Closes every WebSocket authenticated with this key (revocation). */
  closeSocketsForKey(keyId: string): number;
  close(): Promise<void>;
}

type SocketExtra = {
  viewer?: Viewer;
  socket: WebSocket;
  [k: string]: unknown;
};

const bearer = (h: unknown): string | undefined => {
  if (typeof h !== "string") return undefined;
  const m = /^Bearer\s+(.+)$/i.exec(h.trim());
  return m ? m[1].trim() : h.trim() || undefined;
};

export async function createHttpServer(d: HttpDeps): Promise<HttpServer> {
  const { config, services, log } = d;
  const app = express();
  app.disable("x-powered-by");
  app.set("trust proxy", true);
  const server = http.createServer(app);
  const production = config.env === "production";
  const armor = new ApolloArmor({
    maxDepth: { n: config.limits.maxDepth },
    maxAliases: { n: config.limits.maxAliases },
    maxDirectives: { n: config.limits.maxDirectives },
    costLimit: { maxCost: config.limits.maxCost },
    maxTokens: { n: 5000 },
    blockFieldSuggestion: { enabled: production },
  }).protect();

  // --- WebSocket subscriptions (graphql-ws) on the same path ---
  const wss = new WebSocketServer({ server, path: "/graphql", maxPayload: config.limits.wsMaxPayloadBytes });
  const socketsByKey = new Map<string, Set<WebSocket>>();
  const wsServer = useServer<Record<string, unknown>, SocketExtra>(
    {
      schema: d.schema,
      validate: (schema, doc) => validate(schema, doc, [...specifiedRules, ...armor.validationRules]),
      onConnect: async (ctx) => {
        const key = bearer(ctx.connectionParams?.authorization ?? ctx.connectionParams?.Authorization);
        const auth = key ? await services.apiKeys.authenticate(key) : null;
        if (!auth) return false; // graphql-ws closes with 4403 Forbidden
        ctx.extra.viewer = { userId: auth.user.id, role: auth.user.role, tier: auth.user.tier, apiKeyId: auth.keyId, requestId: randomUUID() };
        let set = socketsByKey.get(auth.keyId);
        if (!set) socketsByKey.set(auth.keyId, (set = new Set()));
        set.add(ctx.extra.socket);
        d.metrics.wsConnections.inc();
        return true;
      },
      onSubscribe: (ctx) => {
        if (Object.keys(ctx.subscriptions).length >= config.limits.wsMaxSubscriptions)
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
    ...armor,
    formatError: createFormatError({ production }),
    plugins: [
      ...armor.plugins,
      ApolloServerPluginDrainHttpServer({ httpServer: server }),
      { async serverWillStart() { return { async drainServer() { await wsServer.dispose(); } }; } },
      operationsPlugin(d.metrics),
      config.http.introspection ? ApolloServerPluginLandingPageLocalDefault({ embed: true, includeCookies: false }) : ApolloServerPluginLandingPageDisabled(),
    ],
  });
  await apollo.start();

  app.use(helmet({ contentSecurityPolicy: false, crossOriginEmbedderPolicy: false }));
  app.use(compression());
  app.use(probesRouter(d.probes, d.metrics));
  app.get("/files/{*path}", filesHandler(d.blobs, services.filesSecret));
  app.use(
    "/graphql",
    cors(config.http.corsOrigins === "*" ? {} : { origin: config.http.corsOrigins }),
    express.json({ limit: config.http.bodyLimitBytes }),
    expressMiddleware(apollo, {
      context: async ({ req, res }) => {
        const requestId = (typeof req.headers["x-request-id"] === "string" && req.headers["x-request-id"].slice(0, 100)) || randomUUID();
        res.setHeader("x-request-id", requestId);
        const key = bearer(req.headers.authorization);
        const auth = key ? await services.apiKeys.authenticate(key) : null;
        const viewer: Viewer | null = auth
          ? { userId: auth.user.id, role: auth.user.role, tier: auth.user.tier, apiKeyId: auth.keyId, requestId }
          : null;
        return {
          viewer, requestId, services, loaders: services.newLoaders(),
          log: log.child({ requestId, ...(auth ? { userId: auth.user.id } : {}) }),
          ...(key && !auth ? { authError: "The API key is invalid or has been revoked" } : {}),
        };
      },
    }),
  );
  // Body too large, malformed JSON, …: a clear JSON error, never a stack trace.
  app.use((err: { status?: number; type?: string; message?: string }, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    const status = err.status ?? 500;
    if (status >= 500) log.error({ err }, "http error");
    const code = err.type === "entity.too.large" ? "PAYLOAD_TOO_LARGE" : status < 500 ? "BAD_REQUEST" : "INTERNAL_SERVER_ERROR";
    const message = err.type === "entity.too.large" ? `Request body exceeds ${config.http.bodyLimitBytes} bytes` : status < 500 ? (err.message ?? "Bad request") : "Internal server error";
    res.status(status).json({ errors: [{ message, extensions: { code } }] });
  });

  return {
    server,
    listen: () =>
      new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(config.http.port, config.http.host, () => resolve((server.address() as { port: number }).port));
      }),
    closeSocketsForKey(keyId) {
      const set = socketsByKey.get(keyId);
      if (!set) return 0;
      for (const s of set) s.close(4401, "API key revoked");
      socketsByKey.delete(keyId);
      return set.size;
    },
    async close() {
      await apollo.stop(); // drains HTTP and disposes graphql-ws
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
    },
  };
}
