import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createMetrics } from "./metrics";

const root = join(__dirname, "../..");
const dashboard = JSON.parse(readFileSync(join(root, "deploy/grafana/dashboards/switchboard.json"), "utf8"));

describe("the Grafana dashboard (deploy/grafana)", () => {
  it("queries only metrics this code exports", async () => {
    const exported = new Set((await createMetrics({ defaultMetrics: true }).registry.getMetricsAsJSON()).map((m) => m.name));
    const used = new Set<string>();
    for (const p of dashboard.panels) for (const t of p.targets ?? []) for (const m of t.expr.matchAll(/switchboard_[a-z0-9_]+/g)) used.add(m[0]);
    expect(used.size).toBeGreaterThan(15);
    const unknown = [...used].filter((n) => !exported.has(n) && !exported.has(n.replace(/_(bucket|sum|count)$/, "")));
    expect(unknown).toEqual([]);
    const onDashboard = (n: string) => [...used].some((u) => u === n || u.startsWith(`${n}_`));
    for (const n of [
      "switchboard_generations_total", "switchboard_generation_duration_seconds", "switchboard_generation_queue_wait_seconds", "switchboard_upstream_attempts_total",
      "switchboard_upstream_retries_total", "switchboard_cost_usd_total", "switchboard_queue_depth", "switchboard_circuit_state", "switchboard_provider_key_health",
      "switchboard_provider_key_in_flight", "switchboard_provider_key_state", "switchboard_cache_lookups_total", "switchboard_webhook_deliveries_total",
      "switchboard_alerts_total", "switchboard_process_resident_memory_bytes",
    ])
      expect(onDashboard(n), n).toBe(true);
  });

  it("panels do not overlap", () => {
    const cells = new Set<string>();
    for (const p of dashboard.panels) {
      const { x, y, w, h } = p.gridPos;
      expect(x + w).toBeLessThanOrEqual(24);
      for (let i = x; i < x + w; i++) for (let j = y; j < y + h; j++) {
        expect(cells.has(`${i},${j}`), `${p.title} overlaps`).toBe(false);
        cells.add(`${i},${j}`);
      }
    }
  });
});
