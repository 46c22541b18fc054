/**
 * `npm run bench:chaos`: the chaos suite at scale, as JSON on stdout (progress on stderr).
 * Two `serve --no-worker` API nodes and two `worker` processes from dist/, their own Postgres
 * database and a private redis-server on a free loopback port (so its restart touches nothing
 * else); CHAOS_N generations (default 10,000) created open-loop with provider latency, streamed
 * text among them and a subscriber on every one; a worker SIGKILLed every 2 s while another is
 * ready (and replaced; a kill with only one worker ready is skipped and counted: killsSkipped),
 * one Redis restart without persistence, one Postgres connection purge, streams cut mid-answer.
 * Reported: lost, double-charged, duplicate upstream calls (at-least-once, counted), streams
 * whole, recovery time after the Redis fault, and every broken invariant by kind.
 *
 * Env: CHAOS_N (10000), CHAOS_RATE creates per second (30), CHAOS_SEED (13), CHAOS_KILL_EVERY_MS
 * (2000), CHAOS_QUIET_MS no kill this long after the Redis restart unless it was repaired sooner
 * (20000; its recovery is then measured without a worker start re-creating the schedulers),
 * CHAOS_SWEEP_INTERVAL_MS (2000), CHAOS_SWEEP_GRACE_MS (2000).
 */
import { privateRedis } from "../test/chaos/cluster";
import { runScenario } from "../test/chaos/scenario";

const env = (name: string, def: number) => (process.env[name] ? Number(process.env[name]) : def);
const N = env("CHAOS_N", 10_000);
const RATE = env("CHAOS_RATE", 30);
const SEED = env("CHAOS_SEED", 13);
const KILL_EVERY = env("CHAOS_KILL_EVERY_MS", 2000);
const QUIET = env("CHAOS_QUIET_MS", 20_000);
const SWEEP_INTERVAL = env("CHAOS_SWEEP_INTERVAL_MS", 2000);
const SWEEP_GRACE = env("CHAOS_SWEEP_GRACE_MS", 2000);

async function main() {
  const loadMs = (N * 1000) / RATE;
  const redis = await privateRedis();
  const started = Date.now();
  const report = await runScenario({
    seed: SEED,
    n: N,
    ratePerSec: RATE,
    maxInFlightCreates: 32,
    users: 8,
    mix: { "text-stream": 60, "text-cut": 15, image: 10, embedding: 15 },
    latencyMs: { "text-stream": [300, 1500], "text-cut": [300, 1200], image: [100, 600], embedding: [20, 200] },
    faults: [
      { atMs: Math.round(loadMs * 0.3), kind: "lose-redis" },
      { atMs: Math.round(loadMs * 0.6), kind: "purge-postgres" },
    ],
    killEveryMs: KILL_EVERY,
    quietAfterRedisMs: QUIET,
    awaitRespawn: false,
    waitForReadyWorkerMs: 0,
    keepReadyWorkers: 1,
    settleTimeoutMs: 180_000,
    subscriberGraceMs: 30_000,
    redis,
    apiNodes: 2,
    workers: 2,
    env: {
      JOB_LOCK_MS: "2000",
      JOB_BACKOFF_MS: "100",
      JOB_ATTEMPTS: "10",
      SWEEP_INTERVAL_MS: String(SWEEP_INTERVAL),
      SWEEP_GRACE_MS: String(SWEEP_GRACE),
      WORKER_CONCURRENCY: "32",
      DATABASE_POOL_SIZE: "8",
      WS_MAX_SUBSCRIPTIONS: "5000",
      SHUTDOWN_GRACE_MS: "3000",
      ANALYTICS_ROLLUP_INTERVAL_MS: "0",
      ANOMALY_INTERVAL_MS: "0",
      PROVIDER_HEALTH_INTERVAL_MS: "0",
      RATE_LIMIT_ENTERPRISE_PER_MINUTE: "0",
      RATE_LIMIT_ENTERPRISE_PER_HOUR: "0",
    },
    log: (m) => process.stderr.write(`[bench:chaos] ${m}\n`),
  });
  const { figures, counts, failures, faults } = report;
  const kills = faults.filter((f) => f.kind === "kill-worker").length;
  console.log(JSON.stringify({
    bench: "chaos",
    seed: SEED,
    n: N,
    ratePerSec: RATE,
    wallMs: Date.now() - started,
    lost: figures.lost,
    doubleCharged: figures.doubleCharged,
    duplicateUpstreamCalls: figures.duplicateUpstreamCalls,
    upstreamCalls: figures.upstreamCalls,
    streamsWhole: figures.streamsWhole,
    streamsChecked: figures.streamsChecked,
    subscribersWithoutTerminal: figures.subscribersWithoutTerminal,
    recoveryMsAfterRedisRestart: figures.recoveryMsAfterRedisFault,
    drainMsAfterRedisRestart: figures.drainMsAfterRedisFault,
    inFlightAtRedisRestart: figures.inFlightAtRedisFault,
    workerKills: kills,
    faults: faults.filter((f) => f.kind !== "kill-worker"),
    counts,
    broken: Object.fromEntries(Object.entries(failures).map(([k, v]) => [k, v.length])),
    samples: Object.fromEntries(Object.entries(failures).filter(([, v]) => v.length).map(([k, v]) => [k, v.slice(0, 3)])),
  }, null, 2));
}

main().catch((err: Error) => {
  console.error(err.stack ?? err.message);
  process.exit(1);
});
