/**
 * Anomaly alerts from real traffic on the simulated provider (params.simulate.latencyMs), with
 * short windows: a baseline phase, a pause that moves it out of the recent window, then the
 * recent phase. A latency spike raises exactly one alert, pushed to admins' `alerts`
 * subscription and POSTed to MONITORING_WEBHOOK_URL; constant latency raises none.
 */
import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collect, freePort, startTestApp, type TestApp } from "../helpers/test-app";

const RECENT_MS = 2500;
const anomalyConfig = (webhookUrl?: string) => ({
  monitoring: {
    webhookUrl,
    anomaly: { intervalMs: 200, stddev: 3, minSamples: 5, minDeviationMs: 150, minErrorRateDeviation: 0.2, baselineWindowMs: 120_000, recentWindowMs: RECENT_MS },
  },
});
const CREATE = `mutation($input: CreateGenerationInput!) { createGeneration(input: $input) { id status } }`;
const ALERTS = `query($kind: String) { alerts(kind: $kind) { id kind severity provider message details createdAt } }`;
const SUB = `subscription { alerts { id kind severity provider message details } }`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function burst(t: TestApp, n: number, latencyMs: number, tag: string): Promise<void> {
  const res = await Promise.all(
    Array.from({ length: n }, (_, i) =>
      t.gql(t.adminKey, CREATE, { input: { modality: "TEXT", model: "simulated/text", prompt: `${tag} ${i}`, params: { simulate: { latencyMs, steps: 1 } }, wait: 20 } }),
    ),
  );
  for (const r of res) expect(r.data?.createGeneration.status).toBe("SUCCEEDED");
}

/** A baseline of 8 calls, aged out of the recent window, then 6 recent calls. */
async function baselineThenRecent(t: TestApp, baseMs: number, recentMs: number): Promise<void> {
  await burst(t, 8, baseMs, "baseline");
  await sleep(RECENT_MS + 300);
  await burst(t, 6, recentMs, "recent");
}

describe("latency anomaly", () => {
  let t: TestApp;
  let hook: http.Server;
  const received: { headers: http.IncomingHttpHeaders; body: any }[] = [];
  beforeAll(async () => {
    const port = await freePort();
    hook = http.createServer((req, res) => {
      let raw = "";
      req.on("data", (c) => (raw += c));
      req.on("end", () => {
        received.push({ headers: req.headers, body: JSON.parse(raw) });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => hook.listen(port, "127.0.0.1", () => r()));
    t = await startTestApp(anomalyConfig(`http://127.0.0.1:${port}/alerts`));
  });
  afterAll(async () => {
    await t?.close();
    await new Promise((r) => hook?.close(r));
  });

  it("a spike raises exactly one alert: on the subscription, in the alerts query and at the monitoring webhook", async () => {
    const ws = t.wsClient(t.adminKey);
    const sub = collect(ws, SUB, {}, (a) => a.kind === "latency_anomaly");
    await sleep(300); // graphql-ws gives no ack that the subscription is live (no event to wait for here)

    await baselineThenRecent(t, 20, 700);
    const [alert] = (await sub.done).filter((a) => a.kind === "latency_anomaly");
    expect(alert).toMatchObject({ kind: "latency_anomaly", severity: "warning", provider: "simulated" });
    expect(alert.message).toMatch(/^simulated latency is \d+ ms on average over the last 2\.5 s \(\d+ calls\), against a baseline of \d+ ms/);
    expect(alert.details).toMatchObject({ unit: "ms", samples: { baseline: 8 } });
    expect(alert.details.observed).toBeGreaterThan(600);
    expect(alert.details.baseline).toBeLessThan(200);

    // More ticks while the spike is still in the recent window and after it left: the episode goes on, no new alert.
    await sleep(RECENT_MS + 500);
    const listed = await t.gql(t.adminKey, ALERTS, { kind: "latency_anomaly" });
    expect(listed.errors).toBeUndefined();
    expect(listed.data!.alerts).toHaveLength(1);
    expect(listed.data!.alerts[0].id).toBe(alert.id);
    expect((await t.gql(t.adminKey, ALERTS, { kind: "error_rate_anomaly" })).data!.alerts).toHaveLength(0);

    await expect.poll(() => received.length).toBe(1);
    expect(received[0].headers["content-type"]).toBe("application/json");
    expect(received[0].body).toMatchObject({ type: "alert", alert: { id: alert.id, kind: "latency_anomaly", provider: "simulated", message: alert.message } });

    const metrics = await (await fetch(t.url.replace("/graphql", "/metrics"))).text();
    expect(metrics).toMatch(/switchboard_alerts_total\{kind="latency_anomaly",provider="simulated"\} 1/);
    expect(metrics).toMatch(/switchboard_monitoring_webhook_total\{outcome="ok"\} 1/);
  });

  it("non-admins can neither subscribe to nor query alerts", async () => {
    const user = await t.createUser();
    const sub = collect(t.wsClient(user.key), SUB, {}, () => true, 5000);
    await sub.done;
    expect(sub.events).toHaveLength(0);
    const codes = (sub.errors as unknown[]).flat().map((e) => (e as { extensions?: { code?: string } }).extensions?.code);
    expect(codes).toContain("FORBIDDEN");
    const q = await t.gql(user.key, ALERTS, {});
    expect(q.errors?.[0].extensions?.code).toBe("FORBIDDEN");
    expect(q.data?.alerts ?? null).toBeNull();
  });
});

describe("steady latency", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp(anomalyConfig());
  });
  afterAll(async () => {
    await t?.close();
  });

  it("constant latency raises nothing", async () => {
    await baselineThenRecent(t, 150, 150);
    await sleep(1000); // five more checks with the recent window full
    const listed = await t.gql(t.adminKey, ALERTS, {});
    expect(listed.errors).toBeUndefined();
    expect(listed.data!.alerts).toEqual([]);
    // the checks did run and judged: the recent window held enough calls
    const [{ n }] = await t.app.ds.query(`SELECT count(*)::int AS n FROM generation_attempts WHERE created_at >= now() - interval '5 seconds' AND status = 'SUCCEEDED'`);
    expect(n).toBeGreaterThanOrEqual(5);
  });
});
