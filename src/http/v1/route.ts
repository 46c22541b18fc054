/**
 * What a /v1 endpoint is and what its handler is given. Apart from router.ts so that the route
 * files can name these types without importing the router that imports them (no cycle).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Services } from "../../api/services";
import type { AppConfig } from "../../config/config";
import type { Viewer } from "../../domain/viewer";
import type { Logger } from "../../observability/logger";
import type { BlobStore } from "../../storage/blob-store";
import type { ApiShape } from "./errors";
import type { OpenStreams } from "./open-streams";

/** Everything a /v1 handler is given. */
export interface V1Request {
  req: IncomingMessage;
  res: ServerResponse;
  /** The authenticated caller (its requestId is this request's). */
  viewer: Viewer;
  services: Services;
  config: AppConfig;
  log: Logger;
  /** Generated media by key (images answered as b64_json). */
  blobs: BlobStore;
  /** The path's captured groups (a route with a RegExp path), e.g. a response id. */
  params: string[];
  /** The query string's parameters. */
  query: URLSearchParams;
  /** This server's open /v1 streams: a stream registers how it ends at shutdown. */
  streams: OpenStreams;
}

/** One endpoint: method, path (exact, or a RegExp over the whole path), the API shape its errors take, its handler. */
export interface V1Route {
  method: "GET" | "POST" | "DELETE";
  path: string | RegExp;
  api: ApiShape;
  handle(r: V1Request): Promise<void>;
}
