import type { Request, Response, Router } from "express";
import express from "express";
import type { Metrics } from "../observability/metrics";

export interface Probes {
  /** Each dependency: true when ready, or a reason. */
  ready(): Promise<Record<string, true | string>>;
  /** Refresh gauges that are sampled at scrape time (queue depth). */
  beforeScrape?(): Promise<void>;
}

/** /healthz (alive), /readyz (dependencies ready), /metrics (Prometheus) — on serve and worker alike. */
export function probesRouter(probes: Probes, metrics: Metrics): Router {
  const r = express.Router();
  r.get("/healthz", (_req: Request, res: Response) => {
    res.json({ status: "ok" });
  });
  r.get("/readyz", async (_req: Request, res: Response) => {
    const checks = await probes.ready().catch((err: Error) => ({ probe: err.message }) as Record<string, true | string>);
    const ok = Object.values(checks).every((v) => v === true);
    res.status(ok ? 200 : 503).json({ status: ok ? "ready" : "not ready", checks });
  });
  r.get("/metrics", async (_req: Request, res: Response) => {
    await probes.beforeScrape?.().catch(() => undefined);
    res.set("Content-Type", metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  return r;
}
