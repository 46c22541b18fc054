/**
 * The chaos suite: two `serve --no-worker` API nodes and two `worker` processes (from dist/)
 * on their own Postgres database and their own Redis database (db 9, CHAOS_REDIS_DB), a few
 * hundred generations with provider latency and a subscriber on each, and faults from a fixed
 * seed (CHAOS_SEED): two worker SIGKILLs, a FLUSHDB of the suite's Redis database (after the
 * last restart, so no process start can repair it), a pg_terminate_backend of every connection
 * to the suite's database, and streams cut mid-answer by the simulated provider. Then each
 * promise is checked on its own, naming every generation and subscriber that broke it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sharedRedisDb } from "./cluster";
import { prng, runScenario, type ChaosReport } from "./scenario";

const SEED = Number(process.env.CHAOS_SEED ?? 13);
const REDIS_DB = Number(process.env.CHAOS_REDIS_DB ?? 9);
const SWEEP_INTERVAL_MS = 2000;
const SWEEP_GRACE_MS = 2000;

/** Fails with the count and the first lines of a list of violations (an empty list passes). */
function none(lines: string[], what: string): void {
  if (!lines.length) return;
  const shown = lines.slice(0, 15).map((l) => `  - ${l}`).join("\n");
  expect.fail(`${lines.length} ${what}:\n${shown}${lines.length > 15 ? `\n  … and ${lines.length - 15} more` : ""}`);
}

describe(`chaos: 2 API nodes + 2 workers under faults (seed ${SEED})`, () => {
  let report: ChaosReport | undefined;
  let runError: Error | undefined;
  const jitter = prng(SEED ^ 0xfa17);
  const at = (ms: number) => ms + Math.round((jitter() - 0.5) * 2000);

  beforeAll(async () => {
    try {
      report = await runScenario({
        seed: SEED,
        n: Number(process.env.CHAOS_N ?? 240),
        ratePerSec: 8,
        maxInFlightCreates: 16,
        users: 4,
        mix: { "text-stream": 60, "text-cut": 20, image: 10, embedding: 10 },
        latencyMs: { "text-stream": [1200, 3500], "text-cut": [1000, 2500], image: [300, 1200], embedding: [100, 500] },
        // The Redis flush first, while the load runs; no worker is killed (and so none restarts and
        // re-creates its schedulers) until the flush is repaired or 30 s have passed: the repair must
        // come from the processes already running. Then the Postgres purge and two SIGKILLs.
        faults: [
          { atMs: at(6000), kind: "lose-redis" },
          { atMs: at(12_000), kind: "purge-postgres" },
          { atMs: at(18_000), kind: "kill-worker" },
          { atMs: at(26_000), kind: "kill-worker" },
        ],
        killEveryMs: 0,
        quietAfterRedisMs: 30_000,
        awaitRespawn: false,
        waitForReadyWorkerMs: 90_000,
        keepReadyWorkers: 1,
        settleTimeoutMs: 60_000,
        subscriberGraceMs: 15_000,
        redis: sharedRedisDb(REDIS_DB),
        apiNodes: 2,
        workers: 2,
        env: {
          JOB_LOCK_MS: "2000",
          JOB_BACKOFF_MS: "100",
          JOB_ATTEMPTS: "6",
          SWEEP_INTERVAL_MS: String(SWEEP_INTERVAL_MS),
          SWEEP_GRACE_MS: String(SWEEP_GRACE_MS),
          WORKER_CONCURRENCY: "16",
          DATABASE_POOL_SIZE: "5",
          WS_MAX_SUBSCRIPTIONS: "1000",
          SHUTDOWN_GRACE_MS: "3000",
          ANALYTICS_ROLLUP_INTERVAL_MS: "0",
          ANOMALY_INTERVAL_MS: "0",
          PROVIDER_HEALTH_INTERVAL_MS: "0",
        },
        log: process.env.CHAOS_VERBOSE ? (m) => console.log(`[chaos] ${m}`) : undefined,
      });
      console.log(`[chaos] seed ${SEED}: ${JSON.stringify({ durationMs: report.durationMs, counts: report.counts, figures: report.figures, faults: report.faults }, null, 1)}`);
    } catch (e) {
      runError = e as Error;
    }
  }, 360_000);
  afterAll(() => undefined); // runScenario stops its processes and drops its database and Redis data itself, also on failure

  const r = (): ChaosReport => {
    if (runError) throw runError;
    return report!;
  };

  it("the run happened: the workload was accepted and every fault was injected", () => {
    const { counts, faults } = r();
    expect(faults.map((f) => f.kind)).toEqual(["lose-redis", "purge-postgres", "kill-worker", "kill-worker"]);
    expect(counts.accepted).toBe(counts.generations);
  });

  it("no switchboard process dies unless the suite killed it", () => {
    none(r().failures.crashes, "processes exited by themselves");
  });

  it("every createGeneration is accepted, without an internal error (retries with the idempotency key allowed)", () => {
    none(r().failures.createRejected, "createGeneration calls failed or answered an internal error");
  });

  it(`every generation is terminal (Redis flush repaired within SWEEP_INTERVAL_MS + SWEEP_GRACE_MS, no restart)`, () => {
    none(r().failures.notTerminal, "generations not terminal 60 s after the load");
  });

  it("every subscriber got its terminal event", () => {
    none(r().failures.noTerminalEvent, "subscribers without their terminal event");
  });

  it("every subscriber's text rebuilt by the README protocol equals the stored output", () => {
    none(r().failures.textMismatch, "subscribers whose rebuilt text differs from the stored output");
  });

  it("seq never goes backwards and is gap-free after each SNAPSHOT (forward jumps allowed only after Redis lost its data)", () => {
    none(r().failures.seq, "seq violations");
  });

  it("events arrive in state order (QUEUED before STARTED)", () => {
    none(r().failures.order, "generations whose QUEUED came after STARTED");
  });

  it("ledger charges equal each generation's cost and its attempts' costs; nothing double-charged", () => {
    none(r().failures.ledger, "generations whose ledger charges differ from their cost");
    none(r().failures.doubleCharged, "generations double-charged");
  });

  it("`switchboard quotas verify` is clean", () => {
    none(r().failures.quotasVerify, "quotas verify failures");
  });

  it("zero reservations are left", () => {
    none(r().failures.reservations, "reservations left");
  });

  it("the Redis flush is repaired within SWEEP_INTERVAL_MS + SWEEP_GRACE_MS (+ slack for a loaded machine), without a restart", () => {
    const { figures } = r();
    // Repaired: every generation in flight at the flush is terminal or has its BullMQ job again.
    const bound = 2 * (SWEEP_INTERVAL_MS + SWEEP_GRACE_MS) + 15_000;
    expect(figures.recoveryMsAfterRedisFault, `of ${figures.inFlightAtRedisFault} generations in flight at the flush, some were neither terminal nor re-enqueued by the end of the run`).not.toBeNull();
    expect(figures.recoveryMsAfterRedisFault!, `repair took ${figures.recoveryMsAfterRedisFault} ms (bound ${bound} ms)`).toBeLessThan(bound);
  });
});
