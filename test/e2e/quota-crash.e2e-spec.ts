import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collect, startTestApp, type TestApp } from "../helpers/test-app";
import { spawnWorker, type WorkerProcess } from "../helpers/worker-process";
import { create, estimate, ledger, periods, text } from "../helpers/quota";

const SUB = `subscription($id: ID!) { generationUpdated(id: $id) { type } }`;

describe("budgets: a worker SIGKILLed mid-job", () => {
  const apps: TestApp[] = [];
  let api: TestApp;
  let doomed: WorkerProcess;
  beforeAll(async () => {
    api = await startTestApp({}, { workers: false });
    apps.push(api);
    doomed = await spawnWorker(api, { JOB_LOCK_MS: "1000" });
  });
  afterAll(async () => {
    await doomed?.stop("SIGKILL");
    for (const t of apps) await t.close(); // newest first: the rescuer shares api's database
  });

  it("after recovery the generation completes once and is charged once", { timeout: 60_000 }, async () => {
    const u = await api.createUser();
    const input = text("charge me once", { params: { simulate: { latencyMs: 3000 } } });
    const est = await estimate(api, u.key, input);
    let midStream!: () => void;
    const streaming = new Promise<void>((r) => (midStream = r));
    const terminal = (type: string) => ["SUCCEEDED", "FAILED", "CANCELLED"].includes(type);
    const g = await create(api, u.key, input);
    const sub = collect<{ type: string }>(api.wsClient(u.key), SUB, { id: g.id }, (ev) => (ev.type === "DELTA" && midStream(), terminal(ev.type)), 30_000);
    await Promise.race([streaming, sub.done.then((evs) => Promise.reject(new Error(`ended before streaming: ${JSON.stringify(evs)}`)))]);
    expect((await periods(api, u.id))[0]).toMatchObject({ spent: 0, reserved: est, requests: 1 });

    doomed.child.kill("SIGKILL");
    expect(await doomed.exited).toBe("SIGKILL");
    apps.unshift(await startTestApp({ worker: { lockMs: 1000 } }, { db: api.db, prefix: api.config.redis.prefix }));
    const events = await sub.done;
    expect(sub.errors).toEqual([]);
    expect(events.filter((e) => terminal(e.type)).map((e) => e.type)).toEqual(["SUCCEEDED"]);

    const [row] = await api.app.ds.query(`SELECT status, run_attempt, cost_micros FROM generations WHERE id = $1`, [g.id]);
    const cost = Number(row.cost_micros);
    expect([row.status, row.run_attempt]).toEqual(["SUCCEEDED", 2]);
    expect(cost).toBeGreaterThan(0);
    const attempts = await api.app.ds.query(`SELECT attempt_no, status, error_kind, cost_micros FROM generation_attempts WHERE generation_id = $1 ORDER BY attempt_no`, [g.id]);
    expect(attempts.map((a: Record<string, unknown>) => [a.attempt_no, a.status, a.error_kind, Number(a.cost_micros)])).toEqual([
      [1, "FAILED", "worker_lost", 0],
      [2, "SUCCEEDED", null, cost],
    ]);
    // The retry extended the reservation by its worst case; one charge for the attempt that succeeded; all released.
    expect(await ledger(api, g.id)).toEqual([["release", 0, 2 * est], ["reserve", 0, est], ["charge", 2, cost], ["extend", 2, est]]);
    expect(await periods(api, u.id)).toMatchObject([{ spent: cost, reserved: 0, requests: 1 }]);
    expect(await api.app.services.quotas.verify()).toEqual({ periods: 1, mismatches: [] });
  });
});
