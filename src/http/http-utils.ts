/** Small helpers for plain node:http handlers (no framework on the hot path). */
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { UserFacingError } from "../common/errors";

export type Middleware = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** More `extensions` for the client (e.g. retryAfterSeconds), and response headers. */
    readonly extensions: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/**
 * The client's address for per-address limits: the socket's peer, or with `trustedHops`
 * proxies in front, the address the outermost trusted proxy saw (X-Forwarded-For, from the right).
 */
export function clientAddress(req: IncomingMessage, trustedHops: number): string {
  const peer = req.socket.remoteAddress ?? "unknown";
  if (trustedHops <= 0) return peer;
  const header = req.headers["x-forwarded-for"];
  const hops = (Array.isArray(header) ? header.join(",") : header ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  return hops[hops.length - trustedHops] ?? hops[0] ?? peer;
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const data = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(data), ...headers });
  res.end(data);
}

/** Reads the request body, failing with 413 past `limit` bytes (checked on Content-Length and while streaming). */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > limit) {
    req.resume();
    return Promise.reject(new HttpError(413, "PAYLOAD_TOO_LARGE", `Request body exceeds ${limit} bytes`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        req.removeAllListeners("data");
        req.resume();
        reject(new HttpError(413, "PAYLOAD_TOO_LARGE", `Request body exceeds ${limit} bytes`));
      } else chunks.push(c);
    });
    req.on("end", () => resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

/** Runs connect-style middleware in order; resolves false when one of them ended the response. */
export function runMiddleware(chain: Middleware[], req: IncomingMessage, res: ServerResponse): Promise<boolean> {
  return new Promise((resolve, reject) => {
    let i = 0;
    const next = (err?: unknown) => {
      if (err) return reject(err);
      if (i === chain.length) return resolve(true);
      const mw = chain[i++];
      try {
        mw(req, res, next);
      } catch (e) {
        reject(e);
      }
    };
    res.once("finish", () => resolve(false));
    next();
  });
}

export function queryParams(url: string): URLSearchParams {
  const q = url.indexOf("?");
  return new URLSearchParams(q >= 0 ? url.slice(q + 1) : "");
}

/** Listens, turning "address in use" into one clear line. */
export function listenOn(server: Server, port: number, host: string, variable: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) =>
      reject(err.code === "EADDRINUSE" ? new UserFacingError(`Port ${port} on ${host} is already in use: stop what holds it or set ${variable}`) : err),
    );
    server.listen(port, host, () => resolve((server.address() as { port: number }).port));
  });
}
