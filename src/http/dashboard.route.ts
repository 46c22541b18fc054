/**
 * GET /dashboard/: the operator's web dashboard (dashboard/, built by Vite into dist/dashboard by
 * `npm run build`), served as static files. The page talks only to the public GraphQL API with an
 * API key from sessionStorage as a Bearer header (no cookies), so this route needs no auth: the
 * files hold no data. Its Content-Security-Policy allows scripts and styles from this origin only
 * and connections only to this origin (GraphQL over HTTP and graphql-ws) and the public URL that
 * output files are served from.
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import path from "node:path";
import { gzipSync } from "node:zlib";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".woff2": "font/woff2",
  ".json": "application/json",
};

/** dist/dashboard: next to dist/src when running from the build, under the repo root from sources (ts-node, vitest). */
export function dashboardDir(): string {
  const up = path.resolve(__dirname, "..", "..");
  return path.basename(up) === "dist" ? path.join(up, "dashboard") : path.join(up, "dist", "dashboard");
}

interface Asset {
  body: Buffer;
  gzip: Buffer;
  type: string;
  etag: string;
}

function load(dir: string): Map<string, Asset> {
  const out = new Map<string, Asset>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else {
        const body = readFileSync(p);
        const rel = path.relative(dir, p).split(path.sep).join("/");
        out.set(rel, { body, gzip: gzipSync(body), type: TYPES[path.extname(p)] ?? "application/octet-stream", etag: `"${createHash("sha1").update(body).digest("base64url").slice(0, 20)}"` });
      }
    }
  };
  walk(dir);
  return out;
}

/** The page's policy: this origin only, plus the origin output files are served from (PUBLIC_URL). */
export function dashboardCsp(publicUrl: string): string {
  const files = new URL(publicUrl).origin;
  const ws = files.replace(/^http/, "ws");
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    `img-src 'self' data: blob: ${files}`,
    `media-src 'self' blob: ${files}`,
    "font-src 'self'",
    `connect-src 'self' ${files} ${ws}`, // POST /graphql and the graphql-ws socket on /graphql
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
}

function send(req: IncomingMessage, res: ServerResponse, a: Asset, cache: string): void {
  const headers: Record<string, string> = { "content-type": a.type, "cache-control": cache, etag: a.etag, vary: "accept-encoding", "x-content-type-options": "nosniff" };
  if (req.headers["if-none-match"] === a.etag) {
    res.writeHead(304, headers);
    return void res.end();
  }
  const gz = /\bgzip\b/.test(String(req.headers["accept-encoding"] ?? ""));
  const body = gz ? a.gzip : a.body;
  if (gz) headers["content-encoding"] = "gzip";
  headers["content-length"] = String(body.length);
  res.writeHead(200, headers);
  res.end(req.method === "HEAD" ? undefined : body);
}

const text = (res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}) => {
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8", ...headers });
  res.end(body);
};

/** Returns false when the path is not the dashboard's. `dir` defaults to dist/dashboard. */
export function dashboardHandler(opts: { publicUrl: string; dir?: string }) {
  const dir = opts.dir ?? dashboardDir();
  const csp = dashboardCsp(opts.publicUrl);
  let assets: Map<string, Asset> | undefined;
  let loadedAt = 0;
  return (pathname: string, req: IncomingMessage, res: ServerResponse): boolean => {
    if (pathname !== "/dashboard" && !pathname.startsWith("/dashboard/")) return false;
    if (req.method !== "GET" && req.method !== "HEAD") {
      text(res, 405, "method not allowed\n", { allow: "GET, HEAD" });
      return true;
    }
    // Relative asset URLs (./assets/…, ../graphql) resolve from /dashboard/, not /dashboard.
    if (pathname === "/dashboard") {
      res.writeHead(308, { location: "/dashboard/" });
      res.end();
      return true;
    }
    const index = path.join(dir, "index.html");
    if (!existsSync(index)) {
      text(res, 503, "The dashboard is not built: run `npm run build` (or `npm run build:dashboard`).\n");
      return true;
    }
    // A rebuild (npm run build:dashboard while serving) is picked up on the next page load.
    const mtime = statSync(index).mtimeMs;
    if (!assets || mtime !== loadedAt) {
      assets = load(dir);
      loadedAt = mtime;
    }
    const rel = pathname.slice("/dashboard/".length);
    if (rel === "" || rel === "index.html") {
      res.setHeader("content-security-policy", csp);
      res.setHeader("referrer-policy", "no-referrer");
      send(req, res, assets.get("index.html")!, "no-cache");
      return true;
    }
    const a = rel.includes("..") ? undefined : assets.get(rel);
    if (!a) {
      text(res, 404, "not found\n");
      return true;
    }
    // Vite names assets by content hash: a new build is a new name.
    send(req, res, a, rel.startsWith("assets/") ? "public, max-age=31536000, immutable" : "no-cache");
    return true;
  };
}
