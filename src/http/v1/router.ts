/**
 * The /v1 door: OpenAI- and Anthropic-compatible endpoints onto the generation pipeline.
 * Dispatches /v1/* to the route table below (method + path), resolves the caller (v1/auth.ts),
 * and answers every failure in the route's API shape (v1/errors.ts). Registered once in
 * http/routes.ts. Each endpoint lives in its own file under openai/ or anthropic/ and exports
 * its {@link V1Route}s; add them to ROUTES.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Services } from "../../api/services";
import type { AppConfig } from "../../config/config";
import type { Logger } from "../../observability/logger";
import type { BlobStore } from "../../storage/blob-store";
import { createAuthenticate } from "../auth";
import { requestIdFor } from "../observability.plugin";
import { messagesRoute } from "./anthropic/messages.route";
import { v1Authenticate } from "./auth";
import { EMBEDDINGS_ROUTES } from "./openai/embeddings.route";
import { IMAGES_ROUTES } from "./openai/images.route";
import { MODELS_ROUTES } from "./openai/models.route";
import { RESPONSES_ROUTES } from "./openai/responses.route";
import { fromThrown, sendV1Error, type ApiShape } from "./errors";
import type { V1Route } from "./route";
import { OpenStreams } from "./open-streams";
import { chatCompletionsRoutes } from "./openai/chat-completions.route";

export type { V1Request, V1Route } from "./route";

/** Every /v1 endpoint. */
const ROUTES: V1Route[] = [
  ...chatCompletionsRoutes,
  ...EMBEDDINGS_ROUTES,
  ...IMAGES_ROUTES,
  ...MODELS_ROUTES,
  ...RESPONSES_ROUTES,
  messagesRoute,
];

export interface V1RouterDeps {
  config: AppConfig;
  services: Services;
  log: Logger;
  blobs: BlobStore;
  /** The open streams server.ts ends at shutdown (a private set when not given). */
  streams?: OpenStreams;
}

/** Anthropic's paths (for the error shape of a 404/405 there). */
const apiOfPath = (path: string): ApiShape => (path === "/v1/messages" || path.startsWith("/v1/messages/") ? "anthropic" : "openai");

/**
 * The /v1 handler: resolves true when it answered (any /v1/* path: unknown ones are 404, a known
 * path with another method 405), false for paths outside /v1.
 */
export function createV1Router(d: V1RouterDeps, routes: readonly V1Route[] = ROUTES) {
  const authenticate = v1Authenticate(createAuthenticate(d.services.apiKeys, d.config.http.trustProxyHops));
  const production = d.config.env === "production";
  const streams = d.streams ?? new OpenStreams();

  return async (path: string, search: string, req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    if (path !== "/v1" && !path.startsWith("/v1/")) return false;
    let api = apiOfPath(path);
    try {
      let params: string[] = [];
      const matching = routes.filter((r) => {
        if (typeof r.path === "string") return r.path === path;
        const m = r.path.exec(path);
        if (m && m[0] === path) params = m.slice(1);
        return !!m && m[0] === path;
      });
      const route = matching.find((r) => r.method === req.method);
      if (!route) {
        req.resume();
        if (matching.length) {
          res.setHeader("allow", [...new Set(matching.map((r) => r.method))].join(", "));
          sendV1Error(res, matching[0].api, { status: 405, code: "METHOD_NOT_ALLOWED", message: `${path} takes ${matching.map((r) => r.method).join(" or ")}` });
        } else sendV1Error(res, api, { status: 404, code: "NOT_FOUND", message: `Unknown endpoint: ${req.method} ${path}` });
        return true;
      }
      api = route.api;
      // pino-http gave the request its id (the caller's x-request-id or a fresh one) and echoed it.
      const requestId = String((req as { id?: unknown }).id ?? requestIdFor(req, res));
      const viewer = await authenticate(req, requestId);
      await route.handle({ req, res, viewer, services: d.services, config: d.config, blobs: d.blobs, log: d.log.child({ requestId, userId: viewer.userId }), params, query: new URLSearchParams(search.replace(/^\?/, "")), streams });
    } catch (err) {
      const e = fromThrown(err, production);
      if (e.status >= 500 && e.code === "INTERNAL_SERVER_ERROR") d.log.error({ err, path }, "v1 request failed");
      if (res.headersSent) res.destroy(); // mid-stream: the stream's own error event is the handler's job
      else sendV1Error(res, api, e);
    }
    return true;
  };
}

export type V1Router = ReturnType<typeof createV1Router>;
