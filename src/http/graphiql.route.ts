/**
 * GET /graphiql: a GraphQL explorer that needs no internet. Every script and stylesheet comes
 * from installed npm packages (graphiql 3's UMD bundle, react 18's UMD builds, graphql-ws's UMD
 * client) through this server, and a Content-Security-Policy of 'self' keeps the page from
 * loading anything from another host. Apollo Sandbox (GET /graphql) stays the landing page; it
 * loads from Apollo's CDN, so offline or air-gapped installs use this one.
 *
 * Queries and mutations go over HTTP with the headers editor's headers; subscriptions go over
 * graphql-ws with the editor's Authorization header as `connectionParams.authorization`.
 */
import { readFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import path from "node:path";
import { gzipSync } from "node:zlib";

/** Served under /graphiql/assets/<name>: package and file within it. */
const ASSETS: Record<string, { pkg: string; file: string; type: string }> = {
  "graphiql.min.css": { pkg: "graphiql", file: "graphiql.min.css", type: "text/css; charset=utf-8" },
  "graphiql.min.js": { pkg: "graphiql", file: "graphiql.min.js", type: "text/javascript; charset=utf-8" },
  "react.production.min.js": { pkg: "react", file: "umd/react.production.min.js", type: "text/javascript; charset=utf-8" },
  "react-dom.production.min.js": { pkg: "react-dom", file: "umd/react-dom.production.min.js", type: "text/javascript; charset=utf-8" },
  "graphql-ws.min.js": { pkg: "graphql-ws", file: "umd/graphql-ws.min.js", type: "text/javascript; charset=utf-8" },
};

/** The page's own script (a file, not inline, so the CSP needs no 'unsafe-inline' for scripts). */
const EXPLORER_JS = `(function () {
  "use strict";
  var root = document.getElementById("graphiql");
  // Relative to the page, so the explorer works behind a proxy that mounts us under a path.
  var httpUrl = new URL(root.dataset.endpoint, location.href).href;
  var wsUrl = httpUrl.replace(/^http/, "ws");
  var fetchers = new Map();
  function authorizationOf(headers) {
    for (var k in headers || {}) if (k.toLowerCase() === "authorization") return String(headers[k]);
    return "";
  }
  // One graphql-ws client per Authorization value: editing the header takes effect on the next subscription.
  function fetcherFor(authorization) {
    var f = fetchers.get(authorization);
    if (!f) {
      var wsClient = graphqlWs.createClient({
        url: wsUrl,
        lazy: true,
        retryAttempts: 0,
        connectionParams: authorization ? { authorization: authorization } : {},
      });
      f = GraphiQL.createFetcher({ url: httpUrl, wsClient: wsClient });
      fetchers.set(authorization, f);
    }
    return f;
  }
  function fetcher(params, opts) {
    return fetcherFor(authorizationOf(opts && opts.headers))(params, opts);
  }
  var headers = JSON.stringify({ Authorization: "Bearer <your API key>" }, null, 2);
  ReactDOM.createRoot(root).render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: root.dataset.query,
      headers: headers,
      defaultHeaders: headers,
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: false,
      defaultEditorToolsVisibility: "headers",
    }),
  );
})();
`;

const DEFAULT_QUERY = `# Switchboard explorer. Put your API key in the Authorization header below
# (Headers tab), then run an operation with the play button or Ctrl-Enter.
# Subscriptions (e.g. generationUpdated) run over WebSocket with the same key.

query Me {
  me {
    email
  }
}
`;

const escapeAttr = (s: string) => s.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/\n/g, "&#10;");

const PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8" />
  <meta name="viewport" content="width=device-width, initial-scale=1" />
  <title>Switchboard · GraphiQL</title>
  <link rel="icon" href="data:," />
  <link rel="stylesheet" href="graphiql/assets/graphiql.min.css" />
  <link rel="stylesheet" href="graphiql/assets/explorer.css" />
</head>
<body>
  <div id="graphiql" data-endpoint="graphql" data-query="${escapeAttr(DEFAULT_QUERY)}">Loading GraphiQL…</div>
  <script src="graphiql/assets/react.production.min.js"></script>
  <script src="graphiql/assets/react-dom.production.min.js"></script>
  <script src="graphiql/assets/graphql-ws.min.js"></script>
  <script src="graphiql/assets/graphiql.min.js"></script>
  <script src="graphiql/assets/explorer.js"></script>
</body>
</html>
`;

const EXPLORER_CSS = "html, body, #graphiql { height: 100%; margin: 0; overflow: hidden; }\n";

/** 'self' only: nothing from another host can load, even if a bundle tried. */
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'", // CodeMirror and GraphiQL set inline styles
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'", // fetch to /graphql and the WebSocket on the same origin
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'self'",
].join("; ");

interface Asset {
  body: Buffer;
  gzip: Buffer;
  type: string;
  etag: string;
}

function asset(body: string | Buffer, type: string, etag: string): Asset {
  const buf = typeof body === "string" ? Buffer.from(body) : body;
  return { body: buf, gzip: gzipSync(buf), type, etag };
}

/** Loads (and gzips once) every file the page needs; fails at start if a package is missing. */
function loadAssets(): Map<string, Asset> {
  const out = new Map<string, Asset>();
  const versions: string[] = [];
  for (const [name, a] of Object.entries(ASSETS)) {
    const dir = path.dirname(require.resolve(`${a.pkg}/package.json`));
    const version = (JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8")) as { version: string }).version;
    versions.push(`${a.pkg}@${version}`);
    out.set(name, asset(readFileSync(path.join(dir, a.file)), a.type, `"${a.pkg}-${version}-${name}"`));
  }
  const tag = Buffer.from(versions.join(",")).toString("base64url").slice(0, 24);
  out.set("explorer.js", asset(EXPLORER_JS, "text/javascript; charset=utf-8", `"explorer-${tag}"`));
  out.set("explorer.css", asset(EXPLORER_CSS, "text/css; charset=utf-8", `"explorer-css-${tag}"`));
  out.set("", asset(PAGE, "text/html; charset=utf-8", `"page-${tag}"`));
  return out;
}

function send(req: IncomingMessage, res: ServerResponse, a: Asset, cache: string): void {
  const gz = /\bgzip\b/.test(String(req.headers["accept-encoding"] ?? ""));
  const headers: Record<string, string> = {
    "content-type": a.type,
    "cache-control": cache,
    etag: a.etag,
    vary: "accept-encoding",
    "x-content-type-options": "nosniff",
  };
  if (req.headers["if-none-match"] === a.etag) {
    res.writeHead(304, headers);
    return void res.end();
  }
  const body = gz ? a.gzip : a.body;
  if (gz) headers["content-encoding"] = "gzip";
  headers["content-length"] = String(body.length);
  res.writeHead(200, headers);
  res.end(req.method === "HEAD" ? undefined : body);
}

/** Returns false when the path is not the explorer's. */
export function graphiqlHandler() {
  let assets: Map<string, Asset> | undefined;
  return (pathname: string, req: IncomingMessage, res: ServerResponse): boolean => {
    if (pathname !== "/graphiql" && pathname !== "/graphiql/" && !pathname.startsWith("/graphiql/assets/")) return false;
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain; charset=utf-8" });
      res.end("method not allowed\n");
      return true;
    }
    // The page's relative URLs (graphql, graphiql/assets/…) resolve from /graphiql, not /graphiql/.
    if (pathname === "/graphiql/") {
      res.writeHead(308, { location: "../graphiql" });
      res.end();
      return true;
    }
    assets ??= loadAssets();
    if (pathname === "/graphiql") {
      res.setHeader("content-security-policy", CSP);
      res.setHeader("referrer-policy", "no-referrer");
      send(req, res, assets.get("")!, "no-cache");
      return true;
    }
    const a = assets.get(pathname.slice("/graphiql/assets/".length));
    if (!a) {
      res.writeHead(404, { "content-type": "text/plain; charset=utf-8" });
      res.end("not found\n");
      return true;
    }
    send(req, res, a, "public, max-age=3600");
    return true;
  };
}
