/**
 * One http.Server: GraphQL over HTTP (graphql-http.ts) and over WebSocket (graphql-ws.ts) on
 * /graphql, SSE on /graphql/stream, and the plain routes (routes.ts): /files, /graphiql,
 * /webhooks/providers, /healthz, /readyz and /metrics. This file only puts them together.
 */
import http from "node:http";
import { ApolloArmor } from "@escape.tech/graphql-armor";
import { specifiedRules, validate, type GraphQLSchema } from "graphql";
import { createAuthenticate, httpAuthenticate } from "./auth";
import { createFormatError } from "./format-error";
import { createGraphqlHttp } from "./graphql-http";
import { createGraphqlWs } from "./graphql-ws";
import { listenOn } from "./http-utils";
import { createRoutes, type RoutesDeps } from "./routes";
import { createSseHandler } from "./sse";
import { OpenStreams } from "./v1/open-streams";
import type { WsAuthRefusal } from "./ws-auth";

export interface HttpDeps extends RoutesDeps {
  schema: GraphQLSchema;
}

export interface HttpServer {
  server: http.Server;
  listen(): Promise<number>;
  /** Closes every WebSocket and SSE stream authenticated with this key (revocation, or `why` else); returns how many. */
  closeSocketsForKey(keyId: string, why?: WsAuthRefusal): number;
  /** Closes them when the key expires at `at` (a rotation's overlap ends). */
  expireSocketsForKey(keyId: string, at: Date): void;
  close(): Promise<void>;
}

export async function createHttpServer(d: HttpDeps): Promise<HttpServer> {
  const { config, services, log, metrics, schema } = d;
  const server = http.createServer();
  const production = config.env === "production";
  const armor = new ApolloArmor({
    maxDepth: { n: config.limits.maxDepth },
    maxAliases: { n: config.limits.maxAliases },
    maxDirectives: { n: config.limits.maxDirectives },
    costLimit: { maxCost: config.limits.maxCost },
    // graphql-armor's maxTokens parses every document a second time and its rejection surfaces as
    // HTTP 500; graphql-js counts tokens in Apollo's own parse instead (graphql-http.ts's parseOptions).
    maxTokens: { enabled: false },
    blockFieldSuggestion: { enabled: production },
  }).protect();
  const validationRules = [...specifiedRules, ...armor.validationRules];
  const authenticate = createAuthenticate(services.apiKeys, config.http.trustProxyHops);
  const httpCaller = httpAuthenticate(authenticate);

  const ws = createGraphqlWs({ server, schema, validationRules, config, services, authenticate, log, metrics });
  const graphql = await createGraphqlHttp({ server, schema, armor, config, services, authenticate: httpCaller, drainWebSockets: () => ws.dispose(), log, metrics });
  const sse = createSseHandler({
    schema,
    validate: (s, doc) => validate(s, doc, validationRules),
    context: async (req, res) => graphql.context(req, res, await httpCaller(req)),
    formatError: createFormatError({ production }),
    bodyLimitBytes: config.http.bodyLimitBytes,
    maxQueryBytes: config.limits.maxQueryBytes,
    maxBufferedBytes: config.limits.wsMaxBufferedBytes,
    metrics,
    log,
  });
  const v1Streams = new OpenStreams();
  server.on("request", createRoutes({ ...d, graphql, sse, v1Streams }));

  return {
    server,
    listen: () => listenOn(server, config.http.port, config.http.host, "PORT"),
    closeSocketsForKey(keyId, why) {
      const streams = sse.closeForKey(keyId);
      return ws.closeForKey(keyId, why) + streams;
    },
    expireSocketsForKey(keyId, at) {
      ws.expireForKey(keyId, at);
      setTimeout(() => sse.closeForKey(keyId), Math.max(0, at.getTime() - Date.now())).unref();
    },
    async close() {
      v1Streams.closeAll(); // open /v1 streams end with their API's error event (never a clean end)
      await sse.closeAll(); // open streams end their operations; the drain below then has no long requests to wait for
      await graphql.stop(); // drains HTTP and disposes graphql-ws
      await ws.close();
    },
  };
}
