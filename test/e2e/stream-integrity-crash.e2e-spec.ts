/**
 * A worker crash never corrupts what subscribers see: a run taken over after a SIGKILL emits
 * RESTARTED before its first delta (the text rebuilt by the README's protocol is the stored
 * output, not partial + full), and a worker killed between committing SUCCEEDED and publishing
 * it (the FAULT_EXIT_AFTER_TERMINAL_COMMIT fault-injection hook) still gets its subscriber the
 * terminal event: from the sweeper within SWEEP_INTERVAL_MS + SWEEP_GRACE_MS, or from the
 * re-claim of its stalled job.
 */
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { dropRedisPrefix } from "../helpers/infra";
import { collect, startTestApp, type TestApp } from "../helpers/test-app";
import { spawnWorker, type WorkerProcess } from "../helpers/worker-process";
import { CREATE, SUB, rebuild, terminal, until, type Ev } from "../helpers/stream-protocol";


describe("stream integrity under worker crashes", () => {
  const apps: TestApp[] = [];
  const children: WorkerProcess[] = [];
  const start = async (...args: Parameters<typeof startTestApp>) => {
    const t = await startTestApp(...args);
    apps.unshift(t); // closed newest first: apps sharing a database go before its owner
    return t;
  };
  afterEach(async () => {
    for (const c of children.splice(0)) await c.stop("SIGKILL");
    for (const t of apps.splice(0)) await t.close();
  });
  afterAll(async () => {
    for (const t of apps) await t.close();
  });

  async function create(t: TestApp, prompt: string, latencyMs: number): Promise<string> {
    const res = await t.gql(t.adminKey, CREATE, { input: { modality: "TEXT", model: "simulated/text", prompt: `${prompt} ${Math.random()}`, params: { simulate: { latencyMs } } } });
    expect(res.errors).toBeUndefined();
    return res.data!.createGeneration.id;
  }

  async function stored(t: TestApp, id: string): Promise<{ status: string; run_attempt: number; text: string }> {
    const [row] = await t.app.ds.query(`SELECT status, run_attempt, output->>'text' AS text FROM generations WHERE id = $1`, [id]);
    return row;
  }

  it("a run taken over after a SIGKILL mid-stream emits RESTARTED before its first delta; the rebuilt text is the stored output", { timeout: 240_000 }, async () => {
    const api = await start({}, { workers: false });
    const doomed = await spawnWorker(api, { JOB_LOCK_MS: "1000" }, 120_000);
    children.push(doomed);
    const id = await create(api, "taken over mid-stream", 3000);
    const sub = collect<Ev>(api.wsClient(api.adminKey), SUB, { id }, terminal, 60_000);
    await until(() => sub.events.filter((e) => e.type === "DELTA").length, (n) => n >= 5, 30_000, "5 deltas from the doomed worker");
    doomed.child.kill("SIGKILL");
    expect(await doomed.exited).toBe("SIGKILL");
    const beforeTakeover = sub.events.length;
    await start({ worker: { lockMs: 1000 } }, { db: api.db, prefix: api.config.redis.prefix });
    const events = await sub.done;
    expect(sub.errors).toEqual([]);
    for (let i = 1; i < events.length; i++) expect(events[i].seq).toBe(events[i - 1].seq + 1);
    const takeover = events.slice(beforeTakeover).map((e) => e.type);
    expect(takeover.slice(0, 2), JSON.stringify(takeover)).toEqual(["RESTARTED", "STARTED"]);
    expect(takeover.at(-1)).toBe("SUCCEEDED");
    const row = await stored(api, id);
    expect([row.status, row.run_attempt]).toEqual(["SUCCEEDED", 2]);
    expect(rebuild(events)).toBe(row.text);
  });

  it("SIGKILL mid-stream and then Redis loses the suite's keys: the sweeper's re-run still emits RESTARTED first, above every seq seen", { timeout: 240_000 }, async () => {
    const api = await start({}, { workers: false });
    const doomed = await spawnWorker(api, { JOB_LOCK_MS: "1000" }, 120_000);
    children.push(doomed);
    const id = await create(api, "taken over after a crash and a Redis loss", 3000);
    const sub = collect<Ev>(api.wsClient(api.adminKey), SUB, { id }, terminal, 90_000);
    await until(() => sub.events.filter((e) => e.type === "DELTA").length, (n) => n >= 5, 30_000, "5 deltas from the doomed worker");
    doomed.child.kill("SIGKILL");
    expect(await doomed.exited).toBe("SIGKILL");
    const beforeTakeover = sub.events.length;
    const seenBefore = Math.max(...sub.events.map((e) => e.seq));
    await dropRedisPrefix(api.config.redis.prefix); // the job, its seq counter and its text are gone
    await start({ worker: { lockMs: 1000 }, sweeper: { intervalMs: 500, graceMs: 1000 } }, { db: api.db, prefix: api.config.redis.prefix });
    const events = await sub.done;
    expect(sub.errors).toEqual([]);
    for (let i = 1; i < events.length; i++) expect(events[i].seq).toBeGreaterThan(events[i - 1].seq);
    const takeover = events.slice(beforeTakeover);
    expect(takeover[0].seq).toBeGreaterThan(seenBefore);
    expect(takeover.slice(0, 2).map((e) => e.type), JSON.stringify(takeover.map((e) => e.type))).toEqual(["RESTARTED", "STARTED"]);
    expect(takeover.at(-1)!.type).toBe("SUCCEEDED");
    const row = await stored(api, id);
    expect([row.status, row.run_attempt]).toEqual(["SUCCEEDED", 2]);
    expect(rebuild(events)).toBe(row.text);
  });

  it("a worker killed between committing SUCCEEDED and publishing it: the sweeper publishes it within SWEEP_INTERVAL_MS + SWEEP_GRACE_MS", { timeout: 240_000 }, async () => {
    const INTERVAL_MS = 1000;
    const GRACE_MS = 2000;
    const api = await start({ sweeper: { intervalMs: INTERVAL_MS, graceMs: GRACE_MS } }, { workers: false });
    // A lock longer than the test: no worker takes the job over, only the sweep can help.
    const doomed = await spawnWorker(api, { FAULT_EXIT_AFTER_TERMINAL_COMMIT: "1", JOB_LOCK_MS: "600000" }, 120_000);
    children.push(doomed);
    // The sweep runs in a worker process's maintenance worker; this one takes no generation jobs in time.
    const id = await create(api, "committed, then the worker died", 800);
    const sub = collect<Ev>(api.wsClient(api.adminKey), SUB, { id }, terminal, 60_000);
    expect(await doomed.exited).toBe("SIGKILL");
    const diedAt = Date.now();
    expect((await stored(api, id)).status).toBe("SUCCEEDED");
    expect(sub.events.some(terminal)).toBe(false);
    await start({ sweeper: { intervalMs: INTERVAL_MS, graceMs: GRACE_MS }, worker: { lockMs: 600_000 } }, { db: api.db, prefix: api.config.redis.prefix });
    const events = await sub.done;
    const waited = Date.now() - diedAt;
    expect(sub.errors).toEqual([]);
    expect(events.filter(terminal).map((e) => [e.type, e.generation.status])).toEqual([["SUCCEEDED", "SUCCEEDED"]]);
    // The bound, with slack for a loaded machine (a rescuer's start, one sweep's own time).
    expect(waited).toBeLessThan(INTERVAL_MS + GRACE_MS + 10_000);
    expect(rebuild(events)).toBe((await stored(api, id)).text);
  });

  it("a worker killed between committing SUCCEEDED and publishing it: the re-claim of its stalled job publishes it", { timeout: 240_000 }, async () => {
    const api = await start({}, { workers: false });
    const doomed = await spawnWorker(api, { FAULT_EXIT_AFTER_TERMINAL_COMMIT: "1", JOB_LOCK_MS: "1000" }, 120_000);
    children.push(doomed);
    const id = await create(api, "committed, then the worker died; its job stalls", 800);
    const sub = collect<Ev>(api.wsClient(api.adminKey), SUB, { id }, terminal, 60_000);
    expect(await doomed.exited).toBe("SIGKILL");
    expect((await stored(api, id)).status).toBe("SUCCEEDED");
    expect(sub.events.some(terminal)).toBe(false);
    // No sweep in this test's time (60 s interval): the rescuer's worker re-claims the stalled job.
    await start({ worker: { lockMs: 1000 } }, { db: api.db, prefix: api.config.redis.prefix });
    const events = await sub.done;
    expect(sub.errors).toEqual([]);
    expect(events.filter(terminal).map((e) => [e.type, e.generation.status])).toEqual([["SUCCEEDED", "SUCCEEDED"]]);
    expect(rebuild(events)).toBe((await stored(api, id)).text);
    expect((await stored(api, id)).run_attempt).toBe(1); // published, not run again
  });
});
