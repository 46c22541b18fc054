/**
 * HTTP request logs (pino-http: one line per request with its request id, status and
 * duration) and the Apollo plugin that tells that line and the request's trace span what ran:
 * the operation's name and type, the user, the outcome with its error codes, and the
 * generation it was about. SSE streams (sse.ts) note the same fields.
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { ApolloServerPlugin, GraphQLRequestContextWillSendResponse, HeaderMap } from "@apollo/server";
import { getNamedType, Kind } from "graphql";
import { pinoHttp } from "pino-http";
import type { GraphQLContext } from "../api/context";
import type { Logger } from "../observability/logger";
import { annotateOperation } from "../observability/tracing";

/** Scraped every few seconds: not worth a log line each. */
const QUIET_PATHS = new Set(["/healthz", "/readyz", "/metrics"]);

const pathOf = (url = "/") => {
  const q = url.indexOf("?");
  return q >= 0 ? url.slice(0, q) : url;
};

/** The request id: the caller's `x-request-id` (up to 100 characters) or a fresh UUID; echoed in the response. */
export function requestIdFor(req: IncomingMessage, res: ServerResponse): string {
  const rid = req.headers["x-request-id"];
  const id = (typeof rid === "string" && rid.slice(0, 100)) || randomUUID();
  res.setHeader("x-request-id", id);
  return id;
}

/**
 * Apollo's `request.http.headers` (the HeaderMap graphql-http.ts builds per request) → that request.
 * (Not the context object: Apollo hands plugins a shallow copy of it.)
 */
export const requestOfHeaders = new WeakMap<HeaderMap, IncomingMessage>();

/** What a request's log line says about the GraphQL operation it carried. */
export interface RequestNote {
  operation?: string;
  operationType?: string;
  userId?: string;
  outcome?: "ok" | "error";
  errorCodes?: string[];
  generationId?: string;
}
const notes = new WeakMap<IncomingMessage, RequestNote>();
const startedAt = new WeakMap<IncomingMessage, number>();

/** Adds to the request's log line (later fields win; error codes accumulate, once each). */
export function noteRequest(req: IncomingMessage, note: RequestNote): void {
  const prev = notes.get(req) ?? {};
  const errorCodes = [...new Set([...(prev.errorCodes ?? []), ...(note.errorCodes ?? [])])];
  notes.set(req, { ...prev, ...note, ...(errorCodes.length ? { errorCodes } : {}) });
}

/** Operation names are client-chosen: long ones are cut for the log line. */
const shortName = (name: string) => (name.length > 100 ? `${name.slice(0, 100)}…` : name);

function message(req: IncomingMessage, res: ServerResponse, ms: number): string {
  const n = notes.get(req);
  const what = n?.operationType || n?.operation ? `${n.operationType ?? "operation"} ${n.operation ?? "(anonymous)"}` : `${req.method} ${pathOf(req.url)}`;
  const outcome = n?.outcome ?? (res.statusCode >= 400 ? "error" : "ok");
  const codes = n?.errorCodes?.length ? ` ${n.errorCodes.join(",")}` : "";
  return `${what} ${outcome}${codes} (${res.statusCode}) in ${ms} ms`;
}

/** pino-http: sets `req.id` (the request id) and logs each request once it ends (probes excepted). */
export function createRequestLogger(log: Logger) {
  return pinoHttp<IncomingMessage, ServerResponse>({
    logger: log,
    genReqId: (req, res) => {
      startedAt.set(req, Date.now());
      return requestIdFor(req, res);
    },
    quietReqLogger: true, // req.log carries only the request id
    customAttributeKeys: { reqId: "requestId", responseTime: "durationMs" },
    // Cheap serializers: no headers (authorization), no query string (signed file URLs).
    wrapSerializers: false,
    serializers: {
      req: (r: IncomingMessage) => ({ method: r.method, path: pathOf(r.url) }),
      res: (r: ServerResponse) => ({ statusCode: r.statusCode }),
    },
    customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? "error" : res.statusCode >= 400 ? "warn" : "info"),
    customSuccessMessage: (req, res, ms) => message(req, res, ms),
    customErrorMessage: (req, res) => message(req, res, Date.now() - (startedAt.get(req) ?? Date.now())),
    customProps: (req, res) => {
      const n = notes.get(req);
      // Called at the start too (nothing known yet): only the finished line carries these.
      if (!n && !res.headersSent) return undefined as unknown as object;
      return { ...n, outcome: n?.outcome ?? (res.statusCode >= 400 ? "error" : "ok") };
    },
    autoLogging: { ignore: (req) => QUIET_PATHS.has(pathOf(req.url)) },
  });
}

/** The generation a single-result operation returned at its root (createGeneration, generation, cancelGeneration …). */
function generationIn(rc: GraphQLRequestContextWillSendResponse<GraphQLContext>): string | undefined {
  const body = rc.response.body;
  const data = body.kind === "single" ? (body.singleResult.data as Record<string, unknown> | null | undefined) : undefined;
  const op = rc.operation;
  if (!data || !op) return undefined;
  const root = rc.schema.getRootType(op.operation);
  for (const sel of op.selectionSet.selections) {
    if (sel.kind !== Kind.FIELD) continue;
    const field = root?.getFields()[sel.name.value];
    if (!field || getNamedType(field.type).name !== "Generation") continue;
    const v = data[sel.alias?.value ?? sel.name.value] as { id?: unknown } | null | undefined;
    if (v && typeof v.id === "string") return v.id;
  }
  return undefined;
}

export function observabilityPlugin(): ApolloServerPlugin<GraphQLContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation(rc) {
          if (rc.operation) annotateOperation(rc.operation.operation, rc.operationName ?? undefined);
        },
        async willSendResponse(rc) {
          const id = generationIn(rc);
          const headers = rc.request.http?.headers;
          const req = headers && requestOfHeaders.get(headers);
          if (req) {
            const body = rc.response.body;
            const errors = body.kind === "single" ? body.singleResult.errors ?? [] : [];
            const name = rc.operationName ?? rc.operation?.name?.value;
            noteRequest(req, {
              ...(name ? { operation: shortName(name) } : {}),
              ...(rc.operation ? { operationType: rc.operation.operation } : {}),
              ...(rc.contextValue.viewer ? { userId: rc.contextValue.viewer.userId } : {}),
              outcome: errors.length ? "error" : "ok",
              errorCodes: errors.map((e) => String(e.extensions?.code ?? "INTERNAL_SERVER_ERROR")),
              ...(id ? { generationId: id } : {}),
            });
          }
          if (id) annotateOperation(undefined, undefined, id);
        },
      };
    },
  };
}
