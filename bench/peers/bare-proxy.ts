/**
 * Child process of `npm run bench:peers`: a bare Node `http` proxy, the floor any Node gateway
 * starts from. Every request goes to BENCH_PEERS_UPSTREAM (the mock) over a keep-alive agent,
 * method, path, headers and body piped as they are, the answer piped back (SSE included).
 * Binds 127.0.0.1 on a free port, sent to the parent over IPC.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";

const upstream = new URL(process.env.BENCH_PEERS_UPSTREAM!);
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

const server = http.createServer((req, res) => {
  const out = http.request(
    { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: upstream.host }, agent },
    (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    },
  );
  out.on("error", (err) => {
    if (!res.headersSent) res.writeHead(502, { "content-type": "application/json" });
    res.end(JSON.stringify({ error: { message: `bare proxy: ${err.message}`, type: "api_error", param: null, code: null } }));
  });
  req.pipe(out);
});
server.keepAliveTimeout = 60_000;
server.listen(0, "127.0.0.1", () => process.send!({ port: (server.address() as AddressInfo).port }));
process.on("message", (m: { cmd: string }) => {
  if (m.cmd !== "stop") return;
  server.close(() => process.exit(0));
  server.closeAllConnections();
  agent.destroy();
});
process.on("disconnect", () => process.exit(0));
