import type { IncomingMessage, ServerResponse } from "node:http";
import type { Metrics } from "../observability/metrics";
import { sendJson } from "./http-utils";

export interface Probes {
  /** Each dependency: true when ready, or a reason. */
  ready(): Promise<Record<string, true | string>>;
  /** Refresh gauges that are sampled at scrape time (queue depth). */
  beforeScrape?(): Promise<void>;
}

/** How /readyz reaches each dependency; each rejects with the reason it is not ready. */
export interface ReadinessChecks {
  postgres(): Promise<unknown>;
  redis(): Promise<unknown>;
  /** Names of migrations not yet applied (asked only when Postgres answers). */
  pendingMigrations(): Promise<readonly unknown[]>;
}

/** /readyz's checks: postgres, redis, migrations (unknown while Postgres is down). */
export function readinessProbe(c: ReadinessChecks): Probes["ready"] {
  return async () => {
    const checks: Record<string, true | string> = {};
    checks.postgres = await c.postgres().then(() => true as const, (e: Error) => e.message);
    checks.redis = await c.redis().then(() => true as const, (e: Error) => e.message);
    checks.migrations = checks.postgres === true
      ? await c.pendingMigrations().then((p) => (p.length ? `${p.length} pending` : (true as const)))
      : "unknown";
    return checks;
  };
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
