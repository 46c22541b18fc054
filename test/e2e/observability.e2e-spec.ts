import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../helpers/test-app";
import { spawnWorker, type WorkerProcess } from "../helpers/worker-process";

const base = (t: TestApp) => t.url.replace("/graphql", "");

function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  const sel = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const line = text.split("\n").find((l) => l.startsWith(name) && !l.startsWith("#") && sel.every((s) => l.includes(s)));
  return line ? Number(line.split(" ").at(-1)) : 0;
}

describe("health, readiness and metrics on serve and worker", () => {
  let t: TestApp;
  let worker: WorkerProcess;
  beforeAll(async () => {
    // The worker process must do the work it counts: this API runs no wait in-process (SYNC_IN_PROCESS off).
    t = await startTestApp({ sync: { inProcess: false } } as never, { workers: false });
    worker = await spawnWorker(t);
  });
  afterAll(async () => {
    await worker?.stop();
    await t?.close();
  });

  it("serve: /healthz and /readyz report Postgres, Redis and migrations", async () => {
    const h = await fetch(`${base(t)}/healthz`);
    expect(h.status).toBe(200);
    const r = await fetch(`${base(t)}/readyz`);
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ status: "ready", checks: { postgres: true, redis: true, migrations: true } });
  });

  it("serve: metrics move with real traffic", async () => {
    const before = await (await fetch(`${base(t)}/metrics`)).text();
    const ops = metricValue(before, "switchboard_graphql_operations_total", { operation: "CreateGeneration", outcome: "ok" });
    const res = await t.gql(t.adminKey, `mutation CreateGeneration { createGeneration(input: {modality: TEXT, model: "simulated/text", prompt: "metrics", wait: 15}) { status } }`);
    expect(res.data?.createGeneration.status).toBe("SUCCEEDED");
    await t.gql(t.adminKey, `query Generation { generation(id: "nope") { id } }`);
    const after = await (await fetch(`${base(t)}/metrics`)).text();
    expect(metricValue(after, "switchboard_graphql_operations_total", { operation: "CreateGeneration", outcome: "ok" })).toBe(ops + 1);
    expect(metricValue(after, "switchboard_graphql_operations_total", { operation: "Generation", outcome: "error" })).toBe(1);
    expect(metricValue(after, "switchboard_generations_created_total", { modality: "TEXT" })).toBeGreaterThanOrEqual(1);
    expect(after).toMatch(/switchboard_queue_depth\{state="waiting"\} \d+/);
    expect(after).toContain("switchboard_process_resident_memory_bytes");
  });

  it("worker: its own /healthz, /readyz and /metrics on METRICS_PORT count the work it did", async () => {
    const w = `http://127.0.0.1:${worker.metricsPort}`;
    expect((await fetch(`${w}/healthz`)).status).toBe(200);
    expect((await fetch(`${w}/readyz`)).status).toBe(200);
    const text = await (await fetch(`${w}/metrics`)).text();
    expect(metricValue(text, "switchboard_generations_total", { provider: "simulated", status: "SUCCEEDED" })).toBeGreaterThanOrEqual(1);
    expect(metricValue(text, "switchboard_upstream_attempts_total", { outcome: "ok" })).toBeGreaterThanOrEqual(1);
    expect(text).toContain("switchboard_generation_duration_seconds_bucket");
    expect(text).toContain("switchboard_generation_queue_wait_seconds_bucket");
  });
});
