/**
 * GraphQL over HTTP: Apollo served from a plain node:http handler (executeHTTPGraphQLRequest),
 * measured faster than express 5 here (see bench/). The caller is resolved only when there is an
 * operation to run; the operation's context is built here for HTTP and SSE alike.
 */
import type http from "node:http";
import { ApolloServer, HeaderMap } from "@apollo/server";
import { ApolloServerPluginDrainHttpServer } from "@apollo/server/plugin/drainHttpServer";
import { ApolloServerPluginLandingPageDisabled } from "@apollo/server/plugin/disabled";
import { ApolloServerPluginLandingPageLocalDefault } from "@apollo/server/plugin/landingPage/default";
import type { ApolloArmor } from "@escape.tech/graphql-armor";
import type { GraphQLSchema } from "graphql";
import type { GraphQLContext } from "../api/context";
import type { Services } from "../api/services";
import type { AppConfig } from "../config/config";
import type { Logger } from "../observability/logger";
import type { Metrics } from "../observability/metrics";
import { REFUSAL_MESSAGE, viewerOf, type Caller } from "./auth";
import { createFormatError } from "./format-error";
import { boundedDocumentStore, checkOperations, guardPlugin, MAX_QUERY_TOKENS, operationsOf, persistedQueries } from "./graphql-guard";
import { HttpError, readBody } from "./http-utils";
import { observabilityPlugin, requestIdFor, requestOfHeaders } from "./observability.plugin";
import { operationsPlugin } from "./operations.plugin";
import { subscriptionTransportsMessage } from "./subscription-transports";

export interface GraphqlHttpDeps {
  server: http.Server;
  schema: GraphQLSchema;
  armor: ReturnType<ApolloArmor["protect"]>;
  config: AppConfig;
  services: Services;
  /** The caller of an HTTP request (throws HttpError to refuse: 429, 503). */
  authenticate(req: http.IncomingMessage): Promise<Caller>;
  /** Run when Apollo drains: graphql-ws completes its subscriptions. */
  drainWebSockets(): Promise<void>;
  log: Logger;
  metrics: Metrics;
}

export interface GraphqlHttp {
  /** POST/GET /graphql (after helmet, CORS and compression). */
  handle(req: http.IncomingMessage, res: http.ServerResponse, search: string): Promise<void>;
  /** The operation context of an HTTP request whose caller is known (also SSE's). */
  context(req: http.IncomingMessage, res: http.ServerResponse, caller: Caller): Promise<GraphQLContext>;
  /** Drains HTTP (ApolloServerPluginDrainHttpServer) and graphql-ws. */
  stop(): Promise<void>;
}

export async function createGraphqlHttp(d: GraphqlHttpDeps): Promise<GraphqlHttp> {
  const { config, services, log, armor } = d;
  const production = config.env === "production";
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
      ApolloServerPluginDrainHttpServer({ httpServer: d.server }),
      { async serverWillStart() { return { async drainServer() { await d.drainWebSockets(); } }; } },
      operationsPlugin(d.metrics),
      guardPlugin(() => subscriptionTransportsMessage(config.http.publicUrl)),
      observabilityPlugin(),
      config.http.introspection ? ApolloServerPluginLandingPageLocalDefault({ embed: true, includeCookies: false }) : ApolloServerPluginLandingPageDisabled(),
    ],
  });
  await apollo.start();

  const context = async (req: http.IncomingMessage, res: http.ServerResponse, { key, auth, refusal }: Caller): Promise<GraphQLContext> => {
    // pino-http gave the request its id (the caller's x-request-id or a fresh one) and echoed it.
    const requestId = String((req as { id?: unknown }).id ?? requestIdFor(req, res));
    return {
      viewer: auth ? viewerOf(auth, requestId) : null, requestId, services, loaders: services.newLoaders(),
      log: log.child({ requestId, ...(auth ? { userId: auth.user.id } : {}) }),
      ...(key && !auth ? { authError: REFUSAL_MESSAGE[refusal ?? "invalid"], authRefusal: refusal ?? "invalid" } : {}),
    };
  };

  return {
    context,
    stop: () => apollo.stop(),
    async handle(req, res, search) {
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
      const caller: Caller = ops.length ? await d.authenticate(req) : { auth: null }; // nothing to parse: the landing page, or Apollo's 400
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
    },
  };
}
