import type { IncomingMessage, ServerResponse } from "node:http";
import type { Metrics } from "../observability/metrics";
import { sendJson } from "./http-utils";

export interface Probes {
  /** Each dependency: true when ready, or a reason. */
  ready(): Promise<Record<string, true | string>>;
  /** Refresh gauges that are sampled at scrape time (queue depth). */
  beforeScrape?(): Promise<void>;
}

/**
 * /healthz (alive), /readyz (dependencies ready), /metrics (Prometheus) — on serve and
 * worker alike. Returns false when the path is not one of them.
 */
export function probesHandler(probes: Probes, metrics: Metrics) {
  return async (path: string, _req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    if (path === "/healthz") {
      sendJson(res, 200, { status: "ok" });
    } else if (path === "/readyz") {
      const checks = await probes.ready().catch((err: Error) => ({ probe: err.message }) as Record<string, true | string>);
      const ok = Object.values(checks).every((v) => v === true);
      sendJson(res, ok ? 200 : 503, { status: ok ? "ready" : "not ready", checks });
    } else if (path === "/metrics") {
      await probes.beforeScrape?.().catch(() => undefined);
      const body = await metrics.registry.metrics();
      res.writeHead(200, { "content-type": metrics.registry.contentType });
      res.end(body);
    } else return false;
    return true;
  };
}
