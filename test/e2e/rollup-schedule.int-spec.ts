/** Switching analytics rollups off removes the scheduler an earlier run left in Redis. */
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { ANALYTICS_QUEUE, scheduleRollups, unscheduleRollups } from "../../src/jobs/rollup.processor";
import { dropRedisPrefix, uniquePrefix } from "../helpers/infra";

describe("rollup scheduling", () => {
  const connection = new Redis("redis://127.0.0.1:6379", { maxRetriesPerRequest: null });
  const prefix = uniquePrefix();
  afterAll(async () => {
    await dropRedisPrefix(prefix);
    connection.disconnect();
  });

  it("ANALYTICS_ROLLUP_INTERVAL_MS=0 after it was on leaves no scheduler and no waiting job", async () => {
    const q = await scheduleRollups({ connection, prefix, everyMs: 60_000 });
    expect(await q.getJobSchedulersCount()).toBe(1);
    await q.close();
    await unscheduleRollups({ connection, prefix });
    const check = new Queue(ANALYTICS_QUEUE, { connection, prefix });
    expect(await check.getJobSchedulersCount()).toBe(0);
    expect(await check.getJobCounts("waiting", "delayed")).toEqual({ waiting: 0, delayed: 0 });
    await check.close();
  });
});
