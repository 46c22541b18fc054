import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/common/clock";
import { Topic } from "../../src/realtime/topics";
import { startTestApp, type TestApp } from "../helpers/test-app";
import { CANCEL, CREATE, QUOTA, QUOTA_SUB, SET_QUOTA, create, estimate, micros, periods, quota, setQuota, settled, text, until, usd } from "../helpers/quota";

const genCount = async (t: TestApp, userId: string): Promise<number> =>
  (await t.app.ds.query(`SELECT count(*)::int AS n FROM generations WHERE user_id = $1`, [userId]))[0].n;
const ledgerCount = async (t: TestApp, userId: string): Promise<number> =>
  (await t.app.ds.query(`SELECT count(*)::int AS n FROM spend_ledger WHERE user_id = $1`, [userId]))[0].n;

describe("budgets: periods, warnings, maxCostUsd, access", () => {
  const janClock = new ManualClock(new Date("2026-01-31T23:59:00Z"));
  const apiClock = new ManualClock(new Date("2026-03-10T12:00:00Z"));
  let t: TestApp; // API + workers on janClock
  let api: TestApp; // API only on apiClock: admitted generations stay QUEUED with their reservations
  beforeAll(async () => {
    [t, api] = await Promise.all([startTestApp({}, { clock: janClock }), startTestApp({}, { workers: false, clock: apiClock })]);
  });
  afterAll(async () => {
    await Promise.all([t?.close(), api?.close()]);
  });

  it("a new period starts at 0 and keeps the old one; a January generation settled in February is charged to January", async () => {
    const u = await t.createUser();
    const a = await create(t, u.key, text("january spend", { wait: 30 }));
    expect(a.status).toBe("SUCCEEDED");
    const jan = await quota(t, u.key);
    expect(jan).toMatchObject({ periodStart: "2026-01-01T00:00:00.000Z", periodEnd: "2026-02-01T00:00:00.000Z", spentUsd: a.costUsd, reservedUsd: 0, requests: 1 });
    const b = await create(t, u.key, text("created in january, settled in february", { params: { simulate: { latencyMs: 1500 } } }));
    janClock.set(new Date("2026-02-01T00:00:10Z"));
    const [{ status }] = await t.app.ds.query(`SELECT status FROM generations WHERE id = $1`, [b.id]);
    expect(["QUEUED", "RUNNING"]).toContain(status); // the clock moved before it settled
    const feb = await quota(t, u.key);
    expect(feb).toMatchObject({ periodStart: "2026-02-01T00:00:00.000Z", periodEnd: "2026-03-01T00:00:00.000Z", spentUsd: 0, reservedUsd: 0, requests: 0, limitUsd: 5 });
    const bDone = await settled(t, b.id);
    expect(bDone.status).toBe("SUCCEEDED");
    expect((bDone.quota_period_start as Date).toISOString()).toBe("2026-01-01T00:00:00.000Z");
    const c = await create(t, u.key, text("february spend", { wait: 30 }));
    expect(c.status).toBe("SUCCEEDED");
    const [costA, costB, costC] = [micros(a.costUsd!), Number(bDone.cost_micros), micros(c.costUsd!)];
    expect(costB).toBeGreaterThan(0);
    expect(await periods(t, u.id)).toMatchObject([
      { periodStart: "2026-01-01T00:00:00.000Z", spent: costA + costB, reserved: 0, requests: 2 },
      { periodStart: "2026-02-01T00:00:00.000Z", spent: costC, reserved: 0, requests: 1 },
    ]);
    expect(await quota(t, u.key)).toMatchObject({ periodStart: "2026-02-01T00:00:00.000Z", spentUsd: c.costUsd, reservedUsd: 0, requests: 1 });
    expect(await t.app.services.quotas.verify()).toMatchObject({ mismatches: [] });
  });

  it("crossing 80% emits exactly one QUOTA_WARNING per period on quotaUpdated", async () => {
    const u = await api.createUser();
    const input = (i: number) => text(`warn me ${String(i).padStart(2, "0")}`);
    const est = await estimate(api, u.key, input(0));
    await setQuota(api, u.id, 10 * est - 1); // 80% of it is crossed by the 8th reservation, not the 7th
    const events: { type: string; quota: { reservedUsd: number; requests: number; periodStart: string } }[] = [];
    const errors: unknown[] = [];
    api.wsClient(u.key).subscribe({ query: QUOTA_SUB }, { next: (v) => (v.errors && errors.push(...v.errors), v.data && events.push((v.data as any).quotaUpdated)), error: (e) => errors.push(e), complete: () => undefined });
    // Live once Redis has the subscription: every change after this is delivered, in order.
    const channel = api.app.bus.channel(Topic.QUOTA_UPDATED, u.id);
    await until(async () => ((await api.app.redis.call("PUBSUB", "NUMSUB", channel)) as [string, number])[1], (n) => n >= 1);
    const received = (n: number) => until(async () => events.length, (len) => len >= n);

    const ids: string[] = [];
    for (let i = 0; i < 8; i++) ids.push((await create(api, u.key, input(i))).id);
    await received(8);
    expect(events.map((e) => e.type)).toEqual([...Array(7).fill("UPDATED"), "QUOTA_WARNING"]);
    expect([micros(events[7].quota.reservedUsd), events[7].quota.requests]).toEqual([8 * est, 8]);
    for (const id of ids.slice(0, 2)) expect((await api.gql(u.key, CANCEL, { id })).errors).toBeUndefined();
    await received(10);
    for (let i = 8; i < 10; i++) await create(api, u.key, input(i)); // back above 80%: no second warning this period
    await received(12);
    expect(events.slice(8).map((e) => e.type)).toEqual(Array(4).fill("UPDATED"));
    expect(micros((await quota(api, u.key)).reservedUsd)).toBe(8 * est);

    apiClock.set(new Date("2026-04-01T00:00:00Z")); // a new period: a new warning
    for (let i = 10; i < 18; i++) await create(api, u.key, input(i));
    await received(20);
    expect(events.slice(12).map((e) => e.type)).toEqual([...Array(7).fill("UPDATED"), "QUOTA_WARNING"]);
    expect(events[19].quota.periodStart).toBe("2026-04-01T00:00:00.000Z");
    expect(events.filter((e) => e.type === "QUOTA_WARNING")).toHaveLength(2);
    expect(errors).toEqual([]);
    expect((await periods(api, u.id)).map((p: { warned: boolean }) => p.warned)).toEqual([true, true]);
  });

  it("QUOTA_EXCEEDED writes and enqueues nothing", async () => {
    const u = await api.createUser();
    const input = text("does not fit");
    const est = await estimate(api, u.key, input);
    await setQuota(api, u.id, est - 1);
    const depth = await api.app.queue.depth();
    const res = await api.gql(u.key, CREATE, { input });
    expect(res.data).toBeNull();
    expect(res.errors![0].extensions).toMatchObject({ code: "QUOTA_EXCEEDED", limitUsd: usd(est - 1), spentUsd: 0, reservedUsd: 0, requestedUsd: usd(est) });
    expect([await genCount(api, u.id), await ledgerCount(api, u.id)]).toEqual([0, 0]);
    expect(await api.app.queue.depth()).toEqual(depth);
    expect(await periods(api, u.id)).toMatchObject([{ spent: 0, reserved: 0, requests: 0 }]);
  });

  it("maxCostUsd below the estimate is BAD_USER_INPUT and writes nothing; at or above it is accepted", async () => {
    const u = await api.createUser();
    const input = text("how much at most?");
    const est = await estimate(api, u.key, input);
    const below = await api.gql(u.key, CREATE, { input: { ...input, maxCostUsd: usd(est - 1) } });
    expect(below.errors![0].extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "maxCostUsd", estimatedCostUsd: usd(est) });
    expect([await genCount(api, u.id), await ledgerCount(api, u.id), (await periods(api, u.id)).length]).toEqual([0, 0, 0]);
    for (const max of [est, est + 1]) expect((await create(api, u.key, { ...input, maxCostUsd: usd(max) })).status).toBe("QUEUED");
    expect(await genCount(api, u.id)).toBe(2);
    expect(micros((await quota(api, u.key)).reservedUsd)).toBe(2 * est);
  });

  it("only admins set quotas or read another user's", async () => {
    const a = await api.createUser();
    const b = await api.createUser();
    for (const userId of [b.id, a.id]) {
      const res = await api.gql(a.key, SET_QUOTA, { userId, limitUsd: 1000 });
      expect(res.errors![0].extensions!.code).toBe("FORBIDDEN");
    }
    expect((await api.gql(a.key, QUOTA, { userId: b.id })).errors![0].extensions!.code).toBe("FORBIDDEN");
    expect(await quota(api, a.key)).toMatchObject({ userId: a.id, limitUsd: 5 });
    expect(await quota(api, b.key)).toMatchObject({ userId: b.id, limitUsd: 5 }); // a's attempts changed nothing
    expect(await quota(api, api.adminKey, b.id)).toMatchObject({ userId: b.id, tier: "FREE", limitUsd: 5, spentUsd: 0 });
    await setQuota(api, b.id, 7_500_000);
    expect(await quota(api, b.key)).toMatchObject({ limitUsd: 7.5, remainingUsd: 7.5 });
    const reset = await api.gql(api.adminKey, SET_QUOTA, { userId: b.id, limitUsd: null });
    expect(reset.data!.setQuota).toMatchObject({ userId: b.id, limitUsd: 5 });
  });
});
