/**
 * Worker-only processes serve /metrics, /healthz and /readyz on METRICS_PORT: their own small
 * http.Server with the same probes as the API's.
 */
import http from "node:http";
import type { Metrics } from "../observability/metrics";
import { listenOn, sendJson } from "./http-utils";
import { probesHandler, type Probes } from "./probes";

export async function startMetricsServer(probes: Probes, metrics: Metrics, port: number, host: string): Promise<http.Server> {
  const handle = probesHandler(probes, metrics);
  const server = http.createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    handle(path, req, res).then(
      (found) => found || sendJson(res, 404, { error: "not found" }),
      () => sendJson(res, 500, { error: "internal error" }),
    );
  });
  await listenOn(server, port, host, "METRICS_PORT");
  return server;
}
