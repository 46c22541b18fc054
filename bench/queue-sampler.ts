/**
 * Samples the generations queue from outside while a bench phase runs (no product code): every
 * `everyMs`, BullMQ's waiting (wait + prioritized), delayed and active counts, and the active jobs
 * per worker process (each active job's lock holds its worker's token, `<worker id>:<n>`). Tells
 * whether a phase was worker-bound (every slot busy, jobs waiting) or starved (waiting at 0).
 */
import { Queue } from "bullmq";
import { Redis } from "ioredis";

export interface QueueSample { t: number; waiting: number; delayed: number; active: number; activeByWorker: Record<string, number> }

export function sampleQueue(redisUrl: string, prefix: string, queueName = "generations", everyMs = 100) {
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue(queueName, { connection, prefix });
  const samples: QueueSample[] = [];
  const t0 = performance.now();
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const t = performance.now() - t0;
      const c = await queue.getJobCounts("wait", "prioritized", "delayed", "active");
      const ids = await connection.lrange(`${prefix}:${queueName}:active`, 0, -1);
      const locks = ids.length ? await connection.mget(ids.map((id) => `${prefix}:${queueName}:${id}:lock`)) : [];
      const activeByWorker: Record<string, number> = {};
      for (const l of locks) if (l) activeByWorker[l.split(":")[0]] = (activeByWorker[l.split(":")[0]] ?? 0) + 1;
      samples.push({ t, waiting: (c.wait ?? 0) + (c.prioritized ?? 0), delayed: c.delayed ?? 0, active: c.active ?? 0, activeByWorker });
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    /** Stops sampling; the summary over the samples up to `untilMs` (ms since the start, default all). */
    async stop(untilMs = Infinity) {
      stopped = true;
      await loop;
      await queue.close();
      connection.disconnect();
      const s = samples.filter((x) => x.t <= untilMs);
      const workers = [...new Set(s.flatMap((x) => Object.keys(x.activeByWorker)))];
      const mean = (xs: number[]) => (xs.length ? Math.round((xs.reduce((a, b) => a + b, 0) / xs.length) * 10) / 10 : 0);
      return {
        samples: s.length,
        waiting: { min: Math.min(...s.map((x) => x.waiting)), mean: mean(s.map((x) => x.waiting)), max: Math.max(...s.map((x) => x.waiting)), samplesAtZero: s.filter((x) => x.waiting === 0).length },
        delayedMax: Math.max(0, ...s.map((x) => x.delayed)),
        activeMean: mean(s.map((x) => x.active)),
        activeMeanByWorker: workers.map((w) => mean(s.map((x) => x.activeByWorker[w] ?? 0))),
        /** One line per ~second: [ms, waiting, active per worker…]. */
        timeline: s.filter((_, i) => i % Math.max(1, Math.round(1000 / everyMs)) === 0).map((x) => [Math.round(x.t), x.waiting, ...workers.map((w) => x.activeByWorker[w] ?? 0)]),
      };
    },
  };
}
