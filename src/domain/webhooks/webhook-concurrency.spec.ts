import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_PARK_MS, WebhookConcurrency } from "./webhook-concurrency";
import { dropRedisPrefix } from "../../../test/helpers/infra";

const REDIS_URL = "redis://127.0.0.1:6379";

/** The leases on the real Redis (a unique prefix), as several workers would race for them. */
describe("WebhookConcurrency", () => {
  const prefix = `sbt_${randomBytes(5).toString("hex")}`;
  let redis: Redis;
  let caps: WebhookConcurrency;

  beforeAll(() => {
    redis = new Redis(REDIS_URL);
    caps = new WebhookConcurrency(redis, prefix, { perDestination: 4, perUser: 6, attemptTimeoutMs: 5000 });
  });
  afterAll(async () => {
    redis.disconnect();
    await dropRedisPrefix(prefix);
  });

  it("racing acquires never exceed the destination's cap; a job already holding its slot keeps it", async () => {
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => caps.acquire("u1", "e:dead", `j${i}`)));
    expect(results.filter((r) => r === null)).toHaveLength(4);
    expect(new Set(results.filter(Boolean).map((r) => r!.hit))).toEqual(new Set(["destination"]));
    const holder = `j${results.findIndex((r) => r === null)}`;
    expect(await caps.acquire("u1", "e:dead", holder)).toBeNull(); // idempotent for the holder
    await caps.release("u1", "e:dead", holder);
    expect(await caps.acquire("u1", "e:dead", "late")).toBeNull(); // the freed slot
    expect(await caps.acquire("u1", "e:dead", "later")).not.toBeNull();
  });

  it("the user's cap binds across destinations; other users are not affected", async () => {
    // u2: 4 destinations × 2 jobs against a user cap of 6.
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => caps.acquire("u2", `e:${i % 4}`, `k${i}`)));
    expect(results.filter((r) => r === null)).toHaveLength(6);
    expect(results.filter(Boolean).map((r) => r!.hit)).toEqual(["user", "user"]);
    expect(await caps.acquire("u3", "e:0", "other-user")).toBeNull();
  });

  it("parks in order and promotes the oldest still parked; a job that ran meanwhile is skipped", async () => {
    for (const id of ["p1", "p2", "p3"]) expect(await caps.park("u4", "e:x", id, "destination")).toBe(true); // nothing held: slots free
    // p1 woke by its safety delay and took a slot: no longer parked.
    expect(await caps.acquire("u4", "e:x", "p1")).toBeNull();
    expect(await caps.unpark("u4", "e:x", "destination")).toBe("p2");
    expect(await caps.unpark("u4", "e:x", "destination")).toBe("p3");
    expect(await caps.unpark("u4", "e:x", "destination")).toBeNull();
    expect(await caps.unpark("u4", "e:x", "user")).toBeNull(); // the user's list is separate
    // With the destination full, park says so (no promotion due).
    for (const id of ["f1", "f2", "f3"]) await caps.acquire("u4", "e:x", id);
    expect(await caps.park("u4", "e:x", "p4", "destination")).toBe(false);
  });

  it("the safety delay grows with the queue ahead and is bounded", async () => {
    const busy = new WebhookConcurrency(redis, `${prefix}b`, { perDestination: 1, perUser: 0, attemptTimeoutMs: 5000 });
    expect(await busy.acquire("u5", "e:y", "holder")).toBeNull();
    const first = (await busy.acquire("u5", "e:y", "w0"))!;
    expect(first.safetyDelayMs).toBeGreaterThanOrEqual(5000);
    for (let i = 0; i < 30; i++) await busy.park("u5", "e:y", `w${i}`, "destination");
    const deep = (await busy.acquire("u5", "e:y", "w99"))!;
    expect(deep.safetyDelayMs).toBeGreaterThan(first.safetyDelayMs);
    expect(deep.safetyDelayMs).toBeLessThanOrEqual(MAX_PARK_MS + 250);
    await dropRedisPrefix(`${prefix}b`);
  });
});
