/**
 * The analytics rollup as a repeatable BullMQ job on its own queue (a long catch-up run
 * never delays the sweeper), so it runs once per interval across all workers.
 */
import { Queue, Worker, type ConnectionOptions } from "bullmq";
import type { RollupRun } from "../domain/analytics/rollup.service";
import type { Logger } from "../observability/logger";
import { ScheduledQueue } from "./kept-schedulers";
import { queuePrefix } from "./queue-prefix";

export const ANALYTICS_QUEUE = "analytics";

export interface RollupSettings {
  connection: ConnectionOptions;
  prefix: string;
  /** ANALYTICS_ROLLUP_INTERVAL_MS. */
  everyMs: number;
  /** How often this process checks the scheduler still exists in Redis (SWEEP_INTERVAL_MS); never when absent. */
  checkEveryMs?: number;
}

/** Creates the rollup scheduler and, with `checkEveryMs`, re-creates it whenever Redis lost it (a flush). */
export async function scheduleRollups(s: RollupSettings, log?: Logger): Promise<ScheduledQueue> {
  const q = new ScheduledQueue(ANALYTICS_QUEUE, { connection: s.connection, prefix: queuePrefix(s.prefix, ANALYTICS_QUEUE, s.connection) }, [
    { id: "rollup", everyMs: s.everyMs, opts: { removeOnComplete: true, removeOnFail: 100 } },
  ], log);
  await q.upsertAll();
  return s.checkEveryMs ? q.keep(s.checkEveryMs) : q;
}

/** Rollups switched off (interval 0): the scheduler an earlier run left in Redis goes, so no job piles up without a worker. */
export async function unscheduleRollups(s: Omit<RollupSettings, "everyMs">): Promise<void> {
  const q = new Queue(ANALYTICS_QUEUE, { connection: s.connection, prefix: queuePrefix(s.prefix, ANALYTICS_QUEUE, s.connection) });
  q.on("error", () => undefined); // reconnects by itself (an unheard 'error' would end the process)
  try {
    await q.removeJobScheduler("rollup");
    await q.drain(true);
  } finally {
    await q.close();
  }
}

export function createRollupWorker(rollups: { rollUp(): Promise<RollupRun> }, s: RollupSettings, log: Logger): Worker {
  const worker = new Worker(
    ANALYTICS_QUEUE,
    async (job) => {
      if (job.name !== "rollup") return undefined;
      const run = await rollups.rollUp();
      if (run.hours || run.recomputed) log.info(run, "analytics rollup");
      return run;
    },
    { connection: s.connection, prefix: queuePrefix(s.prefix, ANALYTICS_QUEUE, s.connection), concurrency: 1 },
  );
  worker.on("error", (err) => log.error({ err }, "analytics worker error"));
  return worker;
}
