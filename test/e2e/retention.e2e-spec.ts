import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAINTENANCE_QUEUE } from "../../src/jobs/queues";
import { startTestApp, type TestApp } from "../helpers/test-app";

describe("retention: the maintenance job deletes old media and expired semantic cache entries", () => {
  let t: TestApp;
  let redis: Redis;
  let queue: Queue;
  beforeAll(async () => {
    t = await startTestApp({ files: { retentionDays: 1 }, cache: { semanticModels: ["simulated/image"] } });
    redis = new Redis("redis://127.0.0.1:6379", { maxRetriesPerRequest: null });
    queue = new Queue(MAINTENANCE_QUEUE, { connection: redis, prefix: t.config.redis.prefix });
  });
  afterAll(async () => {
    await queue?.close();
    redis?.disconnect();
    await t?.close();
  });

  it("an image older than BLOB_RETENTION_DAYS is gone after the retention job runs; a new one stays", async () => {
    const make = async (prompt: string) =>
      (await t.gql(t.adminKey, `mutation($p: String!) { createGeneration(input: {modality: IMAGE, model: "simulated/image", prompt: $p, image: {width: 16, height: 16}, wait: 15}) { id output { url } } }`, { p: prompt })).data!.createGeneration;
    const old = await make("an old picture");
    const fresh = await make("a brand new drawing of a boat");
    expect((await fetch(old.output.url)).status).toBe(200);
    await t.app.ds.query(`UPDATE blobs SET created_at = now() - interval '2 days' WHERE key LIKE $1`, [`${old.id}/%`]);
    await t.app.ds.query(`UPDATE semantic_cache_entries SET expires_at = now() - interval '1 second' WHERE source_generation_id = $1`, [old.id]);
    const job = await queue.add("retention", {}, { removeOnComplete: false });
    const deadline = Date.now() + 15_000;
    while ((await job.getState()) !== "completed" && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect((await queue.getJob(job.id!))!.returnvalue).toEqual({ deleted: 1, expiredCacheEntries: 1 });
    expect((await fetch(old.output.url)).status).toBe(404);
    expect((await fetch(fresh.output.url)).status).toBe(200);
    const [{ n }] = await t.app.ds.query(`SELECT count(*)::int AS n FROM semantic_cache_entries WHERE source_generation_id = $1`, [fresh.id]);
    expect(n).toBe(1);
  });
});
