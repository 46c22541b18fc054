/**
 * Routing of plain HTTP requests: /graphql, /graphql/stream (SSE), /v1/… (OpenAI- and
 * Anthropic-compatible, v1/router.ts), /graphiql, /dashboard/ (dashboard.route.ts), /admin/queues
 * (Bull Board, bull-board.route.ts), /files/…,
 * /webhooks/providers/…, /healthz /readyz /metrics, else 404; every failure a JSON error.
 */
import type http from "node:http";
import type { BaseAdapter } from "@bull-board/api/baseAdapter";
import compression from "compression";
import cors from "cors";
import helmet from "helmet";
import type { Services } from "../api/services";
import type { AppConfig } from "../config/config";
import type { Logger } from "../observability/logger";
import type { Metrics } from "../observability/metrics";
import { httpServerSpan } from "../observability/tracing";
import type { BlobStore } from "../storage/blob-store";
import { createAuthenticate, httpAuthenticate } from "./auth";
import { BULL_BOARD_PATH, bullBoardHandler } from "./bull-board.route";
import { dashboardHandler } from "./dashboard.route";
import { filesHandler } from "./files.route";
import { graphiqlHandler } from "./graphiql.route";
import type { GraphqlHttp } from "./graphql-http";
import { HttpError, runMiddleware, sendJson, type Middleware } from "./http-utils";
import { createRequestLogger } from "./observability.plugin";
import { probesHandler, type Probes } from "./probes";
import { providerWebhooksHandler } from "./provider-webhooks.route";
import { SSE_PATH, type createSseHandler } from "./sse";
import type { OpenStreams } from "./v1/open-streams";
import { createV1Router } from "./v1/router";

/** What the plain routes serve from (server.ts's HttpDeps extends it). */
export interface RoutesDeps {
  config: AppConfig;
  services: Services;
  blobs: BlobStore;
  log: Logger;
  metrics: Metrics;
  probes: Probes;
  /** Wakes a generation's delayed job (provider completion webhooks). */
  promoteJob(generationId: string): Promise<boolean>;
  /** Bull Board's queue adapters (/admin/queues), opened on its first request; absent: no Bull Board. */
  bullBoardQueues?: () => { adapters: BaseAdapter[] };
}

export function createRoutes(d: RoutesDeps & { graphql: GraphqlHttp; sse: ReturnType<typeof createSseHandler>; v1Streams?: OpenStreams }): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  const { config, services, log } = d;
  const security = helmet({ contentSecurityPolicy: false, crossOriginEmbedderPolicy: false }) as Middleware;
  const graphqlChain: Middleware[] = [
    security,
    cors(config.http.corsOrigins === "*" ? {} : { origin: config.http.corsOrigins }) as Middleware,
    compression() as unknown as Middleware,
  ];
  const probes = probesHandler(d.probes, d.metrics);
  const files = filesHandler(d.blobs, services.filesSecret, config.files.urlTtlSeconds);
  const providerWebhooks = providerWebhooksHandler({
    generations: services.generations, secret: config.providers.replicateWebhookSecret, promote: d.promoteJob, log,
  });
  const requestLog = createRequestLogger(log);
  const graphiql = config.http.introspection ? graphiqlHandler() : undefined; // like the landing page
  const v1 = createV1Router({ config, services, log, blobs: d.blobs, streams: d.v1Streams });
  const dashboard = dashboardHandler({ publicUrl: config.http.publicUrl });
  const bullBoard = d.bullBoardQueues && bullBoardHandler({
    authenticate: httpAuthenticate(createAuthenticate(services.apiKeys, config.http.trustProxyHops)), secret: services.filesSecret, queues: d.bullBoardQueues,
  });

  return (req, res) => {
    requestLog(req, res);
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const path = q >= 0 ? url.slice(0, q) : url;
    const search = q >= 0 ? url.slice(q) : "";
    const handle = async () => {
      if (path === "/graphql")
        return httpServerSpan(req, res, path, async () => {
          if (await runMiddleware(graphqlChain, req, res)) await d.graphql.handle(req, res, search); // else e.g. a CORS preflight was answered
        });
      if (path === SSE_PATH)
        return httpServerSpan(req, res, path, async () => {
          // helmet and CORS, not compression: it would hold events back.
          if (await runMiddleware(graphqlChain.slice(0, 2), req, res)) await d.sse.handle(req, res);
        });
      if (path === "/v1" || path.startsWith("/v1/"))
        return httpServerSpan(req, res, path, async () => {
          // helmet and CORS (browser SDKs send preflights), not compression: it would hold stream chunks back.
          if (await runMiddleware(graphqlChain.slice(0, 2), req, res)) await v1(path, search, req, res);
        });
      if (graphiql?.(path, req, res)) return;
      if (path === "/dashboard" || path.startsWith("/dashboard/")) {
        await runMiddleware([security], req, res);
        if (dashboard(path, req, res)) return;
      }
      if (bullBoard && (path === BULL_BOARD_PATH || path.startsWith(`${BULL_BOARD_PATH}/`))) {
        await runMiddleware([security], req, res);
        if (await bullBoard(path, req, res)) return;
      }
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
  };
}
