/**
 * `npm run bench:resilience`: routing around a failing provider, as JSON.
 * Two providers on the simulated adapter ("simulated" primary, "simulated-b" fallback), the
 * same closed-loop load (createGeneration with wait, C clients) in three phases:
 *   healthy — both healthy;  flaky — the primary fails 70% (503);  down — the primary is hard down.
 * Per phase: success rate, p50/p95 end-to-end latency, upstream calls per success (attempts
 * that reached a provider, i.e. not SKIPPED by an open circuit), overall and after the breaker opened.
 * Targets (issue): success ≥ 99.9% while one provider is healthy; ≤ 1.2 upstream calls per success once
 * the breaker has opened; p95 within 1.5× of the all-healthy run.
 * Env: BENCH_N per phase (1500), BENCH_C (16), BENCH_LATENCY_MS simulated provider latency (40), CIRCUIT_RESET_MS (5000).
 */
import http from "node:http";
import { createApp } from "../src/app";
import { testConfig } from "../src/config/config";
import { createTestDatabase, dropRedisPrefix, uniquePrefix } from "../test/helpers/infra";
import { percentile, post } from "./load";

const N = Number(process.env.BENCH_N ?? 1500);
const C = Number(process.env.BENCH_C ?? 16);
const LATENCY = Number(process.env.BENCH_LATENCY_MS ?? 40);
const RESET = Number(process.env.CIRCUIT_RESET_MS ?? 5000);

async function main() {
  const db = await createTestDatabase();
  const prefix = uniquePrefix();
  const config = testConfig({
    http: { port: 0, host: "127.0.0.1" },
    db: { url: db.url, poolSize: 10 },
    redis: { url: "redis://127.0.0.1:6379", prefix },
    worker: { concurrency: 32 },
    providers: { simulatedExtra: ["simulated-b"] },
    resilience: { resetMs: RESET, userMaxInFlight: 0 },
    rateLimits: { enterprise: { perMinute: 0, perHour: 0 } },
    log: { level: "warn" },
  });
  let sql = 0;
  const app = await createApp(config, { api: true, workers: true, onQuery: () => sql++ });
  const port = await app.start();
  const { key } = await app.services.apiKeys.createUser("bench-resilience@local", "ADMIN", "enterprise");
  const url = `http://127.0.0.1:${port}/graphql`;
  const agent = new http.Agent({ keepAlive: true, maxSockets: C });
  const headers = { authorization: `Bearer ${key}` };
  const gql = (query: string, variables: Record<string, unknown> = {}) => post(url, agent, headers, JSON.stringify({ query, variables }));
  const CREATE = `mutation($input: CreateGenerationInput!) { createGeneration(input: $input) { id status } }`;

  async function phase(name: string) {
    const since = new Date();
    const sql0 = sql;
    const latencies: number[] = [];
    let ok = 0;
    let next = 0;
    const t0 = performance.now();
    await Promise.all(Array.from({ length: C }, async () => {
      while (next < N) {
        const i = next++;
        const s = performance.now();
        const res = await gql(CREATE, {
          input: { modality: "TEXT", model: "simulated/text", fallbackModels: ["simulated-b/text"], prompt: `${name} ${i}`, wait: 60, params: { simulate: { latencyMs: LATENCY } } },
        });
        latencies.push(performance.now() - s);
        if (res?.data?.createGeneration?.status === "SUCCEEDED") ok++;
      }
    }));
    const seconds = (performance.now() - t0) / 1000;
    const sqlPerGeneration = Math.round(((sql - sql0) / N) * 100) / 100;
    const [opened] = await app.ds.query(`SELECT min(created_at) AS at FROM circuit_events WHERE provider = 'simulated' AND to_state = 'OPEN' AND created_at >= $1`, [since]);
    const calls = async (from: Date) => {
      const [r] = await app.ds.query(
        `SELECT count(*) FILTER (WHERE a.status <> 'SKIPPED')::int AS calls, count(DISTINCT g.id) FILTER (WHERE g.status = 'SUCCEEDED')::int AS successes
           FROM generations g JOIN generation_attempts a ON a.generation_id = g.id WHERE g.created_at >= $1`,
        [from],
      );
      return Math.round((r.calls / Math.max(1, r.successes)) * 1000) / 1000;
    };
    const sorted = [...latencies].sort((a, b) => a - b);
    return {
      phase: name, requests: N, seconds: Math.round(seconds * 100) / 100, sqlPerGeneration,
      successRate: Math.round((ok / N) * 100_000) / 100_000,
      latencyMs: { p50: percentile(sorted, 50), p95: percentile(sorted, 95), p99: percentile(sorted, 99) },
      upstreamCallsPerSuccess: await calls(since),
      ...(opened?.at ? { breakerOpenedAfterMs: new Date(opened.at).getTime() - since.getTime(), upstreamCallsPerSuccessAfterOpen: await calls(new Date(opened.at)) } : {}),
    };
  }
  const fault = (failRate: number) =>
    gql(`mutation($r: Float!) { setSimulatedFaults(provider: "simulated", failRate: $r, failWith: "unavailable") }`, { r: failRate });

  await phase("warmup");
  const healthy = await phase("healthy");
  await fault(0.7);
  const flaky = await phase("flaky-70%");
  await fault(1);
  const down = await phase("hard-down");
  await fault(0);
  const circuitEvents = (await app.ds.query(`SELECT from_state || '>' || to_state AS t, count(*)::int AS n FROM circuit_events GROUP BY 1 ORDER BY 1`)) as { t: string; n: number }[];
  const worstP95 = Math.max(flaky.latencyMs.p95, down.latencyMs.p95);
  const out = {
    bench: "resilience", n: N, c: C, providerLatencyMs: LATENCY, circuitResetMs: RESET,
    phases: [healthy, flaky, down],
    circuitTransitions: Object.fromEntries(circuitEvents.map((e) => [e.t, e.n])),
    targets: {
      successRateAtLeast999: [flaky, down].every((p) => p.successRate >= 0.999),
      callsPerSuccessAfterOpenAtMost12: [flaky, down].every((p) => (p.upstreamCallsPerSuccessAfterOpen ?? p.upstreamCallsPerSuccess) <= 1.2),
      p95Within15xOfHealthy: worstP95 <= 1.5 * healthy.latencyMs.p95,
      p95Ratio: Math.round((worstP95 / healthy.latencyMs.p95) * 100) / 100,
    },
  };
  console.log(JSON.stringify(out, null, 2));
  agent.destroy();
  await app.stop();
  await db.drop();
  await dropRedisPrefix(prefix);
}
void main().catch((e) => {
  console.error(e);
  process.exit(1);
});
