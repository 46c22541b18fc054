/**
 * The fast sync path (SYNC_IN_PROCESS, src/domain/generations/sync-run.ts), tried as a client
 * would try to break it: a waiting request runs in the API process (no worker anywhere, and it
 * still completes with a whole stream; its row admitted RUNNING, no claim statement), with fewer Redis commands than the queued path; a
 * burst beyond the local slots, LOW priority and a user over USER_MAX_IN_FLIGHT take the
 * queue; and an API process SIGKILLed mid-call has its generation recovered (its liveness
 * lease lapses, the sweeper re-enqueues it, a worker takes it over), finished exactly once,
 * charged once and its reservation released once. With ASYNC_IN_PROCESS an async request takes the
 * same path (and the same recovery), answered at once; off, it is queued.
 */
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { REDIS_URL } from "../helpers/infra";
import { monitorLines, monitorRedis } from "../helpers/redis-monitor";
import { CREATE, SUB, rebuild, terminal, until, type Ev } from "../helpers/stream-protocol";
import { collect, startTestApp, type TestApp } from "../helpers/test-app";
import { spawnWorker, type WorkerProcess } from "../helpers/worker-process";

const MY = `subscription { myGenerations { seq type generation { id status } } }`;

const text = (prompt: string, extra: Record<string, unknown> = {}) => ({ modality: "TEXT", model: "simulated/text", prompt: `${prompt} ${Math.random()}`, ...extra });
const slow = (latencyMs: number) => ({ params: { simulate: { latencyMs } } });

async function create(t: TestApp, key: string, input: Record<string, unknown>): Promise<{ id: string; status: string }> {
  const res = await t.gql(key, CREATE, { input });
  expect(res.errors).toBeUndefined();
  return res.data!.createGeneration;
}

describe("the fast sync path", () => {
  const apps: TestApp[] = [];
  const children: WorkerProcess[] = [];
  const start = async (...args: Parameters<typeof startTestApp>) => {
    const t = await startTestApp(...args);
    apps.unshift(t);
    return t;
  };
  afterEach(async () => {
    for (const c of children.splice(0)) await c.stop("SIGKILL");
    for (const t of apps.splice(0)) await t.close();
  });
  afterAll(async () => {
    for (const t of apps) await t.close();
  });

  it("runs a waiting request in the API process (no worker anywhere) with a whole stream: QUEUED is seq 1, then STARTED … SUCCEEDED, gap-free", { timeout: 60_000 }, async () => {
    const t = await start({ sync: { inProcess: true } }, { workers: false });
    type MyEv = { seq: number; type: string; generation: { id: string; status: string } };
    const events: MyEv[] = [];
    const sub = collect<MyEv>(t.wsClient(t.adminKey), MY, {}, (e) => e.type === "SUCCEEDED", 30_000);
    // The subscription is live once a queued (never run: no worker) generation's QUEUED reaches it.
    const probe = await create(t, t.adminKey, text("probe"));
    await until(() => sub.events.some((e) => e.generation.id === probe.id), Boolean, 10_000, "the probe's QUEUED");
    // Every statement the app sends, as TypeORM's logger sees it (queryRows and TypeORM's own both report there).
    const logger = t.app.ds.logger;
    const logQuery = logger.logQuery.bind(logger);
    const statements: string[] = [];
    logger.logQuery = (query, params, runner) => (statements.push(query), logQuery(query, params, runner));
    const g = await create(t, t.adminKey, { ...text("fast"), wait: 20, ...slow(200) });
    logger.logQuery = logQuery;
    expect(g.status).toBe("SUCCEEDED");
    // Admitted in one autocommit statement (QuotaStore.admitInOne): no transaction's START and COMMIT, no lock of its own.
    expect(statements.filter((q) => /^(START TRANSACTION|BEGIN|COMMIT)\b/.test(q))).toEqual([]);
    expect(statements.filter((q) => q.includes("INSERT INTO quota_periods"))).toHaveLength(1);
    // Born RUNNING: admission's commit wrote the row RUNNING with its first attempt open, so no claim statement ran.
    expect(statements.filter((q) => q.includes("claimed_attempt_no"))).toEqual([]);
    expect(statements.filter((q) => q.includes("INSERT INTO spend_ledger") && q.includes("INSERT INTO generation_attempts"))).toHaveLength(1);
    const attempts = await t.app.ds.query(`SELECT attempt_no, status, provider, model FROM generation_attempts WHERE generation_id = $1`, [g.id]);
    expect(attempts).toEqual([{ attempt_no: 1, status: "SUCCEEDED", provider: "simulated", model: expect.any(String) }]);
    events.push(...(await sub.done).filter((e) => e.generation.id === g.id));
    expect(events[0]).toMatchObject({ seq: 1, type: "QUEUED" });
    expect(events[1]).toMatchObject({ seq: 2, type: "STARTED" });
    // Published with its QUEUED (one write): the run itself publishes no second STARTED.
    expect(events.filter((e) => e.type === "STARTED")).toHaveLength(1);
    expect(events.at(-1)!.type).toBe("SUCCEEDED");
    for (let i = 1; i < events.length; i++) expect(events[i].seq).toBe(events[i - 1].seq + 1);
    const [row] = await t.app.ds.query(`SELECT status, run_attempt FROM generations WHERE id = $1`, [g.id]);
    expect(row).toEqual({ status: "SUCCEEDED", run_attempt: 1 });
    // It never had a job, and its liveness lease is gone with the run.
    expect(await t.app.queue.state(g.id)).toBe("missing");
    expect(await t.app.redis.exists(`${t.config.redis.prefix}:inproc:${g.id}`)).toBe(0);
  });

  it("ASYNC_IN_PROCESS: an async request (no wait) starts in the API process that accepted it, with no job, and completes with a whole stream; off, it is queued", { timeout: 60_000 }, async () => {
    const t = await start({ sync: { inProcess: true, async: true } }, { workers: false });
    const prefix = t.config.redis.prefix;
    type MyEv = { seq: number; type: string; generation: { id: string; status: string } };
    const sub = collect<MyEv>(t.wsClient(t.adminKey), MY, {}, (e) => e.type === "SUCCEEDED", 30_000);
    // The subscription is live once a LOW generation's QUEUED reaches it (LOW always takes the queue; no worker runs it).
    const probe = await create(t, t.adminKey, { ...text("probe"), priority: "LOW" });
    await until(() => sub.events.some((e) => e.generation.id === probe.id), Boolean, 10_000, "the probe's QUEUED");
    expect(await t.app.queue.state(probe.id)).toBe("waiting");
    const began = Date.now();
    const g = await create(t, t.adminKey, { ...text("eager"), ...slow(1500) });
    // Answered at once (the caller does not wait for the run), while the run goes on here under its liveness lease.
    expect(Date.now() - began).toBeLessThan(1500);
    expect(["QUEUED", "RUNNING"]).toContain(g.status);
    expect(await t.app.queue.state(g.id)).toBe("missing");
    expect(await t.app.redis.exists(`${prefix}:inproc:${g.id}`)).toBe(1);
    const events = (await sub.done).filter((e) => e.generation.id === g.id);
    expect(events.map((e) => e.type).slice(0, 2)).toEqual(["QUEUED", "STARTED"]);
    expect(events[0].seq).toBe(1);
    expect(events.at(-1)!.type).toBe("SUCCEEDED");
    for (let i = 1; i < events.length; i++) expect(events[i].seq).toBe(events[i - 1].seq + 1);
    const [row] = await t.app.ds.query(`SELECT status, run_attempt FROM generations WHERE id = $1`, [g.id]);
    expect(row).toEqual({ status: "SUCCEEDED", run_attempt: 1 });
    expect(await t.app.redis.exists(`${prefix}:inproc:${g.id}`)).toBe(0);
    // A burst beyond the slots still takes the queue.
    const small = await start({ sync: { inProcess: true, async: true, slots: 1 } }, { workers: false });
    const burst = await Promise.all([0, 1].map((i) => create(small, small.adminKey, { ...text(`burst ${i}`), ...slow(1500) })));
    expect((await Promise.all(burst.map((b) => small.app.queue.state(b.id)))).sort()).toEqual(["missing", "waiting"]);
    // Off (the default): an async request is queued for a worker.
    const off = await start({ sync: { inProcess: true } }, { workers: false });
    const queued = await create(off, off.adminKey, text("queued"));
    expect(queued.status).toBe("QUEUED");
    expect(await off.app.queue.state(queued.id)).toBe("waiting");
  });

  it("ASYNC_IN_PROCESS and a clean stop: runs that end within SHUTDOWN_GRACE_MS finish, the rest are handed to the queue and a worker finishes them once", { timeout: 120_000 }, async () => {
    // `home` owns the database and the prefix (and has no worker); `api` takes the async requests and is stopped.
    const home = await start({}, { workers: false });
    const prefix = home.config.redis.prefix;
    const api = await startTestApp({ sync: { inProcess: true, async: true }, http: { shutdownGraceMs: 1500 } }, { db: home.db, prefix, workers: false });
    apps.unshift(api);
    const user = await api.createUser();
    const quick = await create(api, user.key, { ...text("ends within the grace"), ...slow(300) });
    const long = await create(api, user.key, { ...text("outlasts the grace"), ...slow(6000) });
    for (const g of [quick, long]) expect(await home.app.queue.state(g.id)).toBe("missing");
    await until(() => home.app.ds.query(`SELECT count(*)::int AS n FROM generation_attempts WHERE generation_id = $1 AND status = 'RUNNING'`, [long.id]), (r: { n: number }[]) => r[0].n === 1, 10_000, "the long run's attempt");
    const began = Date.now();
    await api.close();
    apps.splice(apps.indexOf(api), 1);
    const stopMs = Date.now() - began;
    expect(stopMs).toBeGreaterThanOrEqual(1400); // it waited out the grace for the long run
    const status = async (id: string) => (await home.app.ds.query(`SELECT status FROM generations WHERE id = $1`, [id]))[0].status;
    expect(await status(quick.id)).toBe("SUCCEEDED");
    expect(await status(long.id)).toBe("QUEUED");
    expect(["waiting", "prioritized"]).toContain(await home.app.queue.state(long.id));
    expect(await home.app.redis.exists(`${prefix}:inproc:${long.id}`)).toBe(0);
    // The next process with workers finishes it: one charge, one release, its first attempt closed uncharged.
    const workers = await startTestApp({}, { db: home.db, prefix });
    apps.unshift(workers);
    await until(() => status(long.id), (s) => s === "SUCCEEDED", 60_000, "the handed-back run, finished by a worker");
    const [row] = await home.app.ds.query(`SELECT run_attempt, cost_micros FROM generations WHERE id = $1`, [long.id]);
    expect(row.run_attempt).toBe(2);
    const ledger = await home.app.ds.query(`SELECT kind FROM spend_ledger WHERE generation_id = $1 AND kind IN ('charge', 'release') ORDER BY kind`, [long.id]);
    expect(ledger.map((l: { kind: string }) => l.kind)).toEqual(["charge", "release"]);
    const [q] = await home.app.ds.query(`SELECT reserved_micros FROM quota_periods WHERE user_id = $1`, [user.id]);
    expect(Number(q.reserved_micros)).toBe(0);
  });

  it("its one-statement admission keeps one generic plan: Postgres does not plan it afresh for every request", { timeout: 60_000 }, async () => {
    // One connection, so this session's prepared statements are the ones admission used.
    const t = await start({ sync: { inProcess: true }, db: { poolSize: 1 } }, { workers: false });
    for (let i = 0; i < 8; i++) expect((await create(t, t.adminKey, { ...text(`planned ${i}`), wait: 10 })).status).toBe("SUCCEEDED");
    const plans = await t.app.ds.query(`SELECT generic_plans::int, custom_plans::int FROM pg_prepared_statements WHERE statement LIKE '%INSERT INTO quota_periods AS qp%'`);
    // A custom plan for each of the first five executions (Postgres's rule), then the generic one for the rest: the
    // arrays are unnested through sub-selects, so a custom plan cannot see their length and costs what the generic one does.
    expect(plans).toEqual([{ generic_plans: expect.any(Number), custom_plans: 5 }]);
    expect(plans[0].generic_plans).toBeGreaterThanOrEqual(3);
  });

  it("asks for its slot and leases in the rate limit's round trip, and gives them back when the rate limit refuses", { timeout: 60_000 }, async () => {
    const t = await start({ sync: { inProcess: true }, rateLimits: { free: { perMinute: 1, perHour: 100 } } }, { workers: false });
    const u = await t.createUser(undefined, { tier: "free" });
    const prefix = t.config.redis.prefix;
    const lines: string[] = [];
    const monitor = await monitorLines(REDIS_URL, (line) => void (line.includes(prefix) && lines.push(line)));
    await new Promise((r) => setTimeout(r, 200));
    const g = await create(t, u.key, { ...text("first of the minute"), wait: 10 });
    expect(g.status).toBe("SUCCEEDED");
    const refused = await t.gql(u.key, CREATE, { input: { ...text("over the rate limit"), wait: 10 } });
    expect(refused.errors?.[0]?.extensions?.code).toBe("RATE_LIMITED");
    await new Promise((r) => setTimeout(r, 300));
    monitor.close();
    // The liveness lease goes out before the rate limit's check, in the same auto-pipelined write (MONITOR lists a
    // client's commands in the order they arrive): the fast path's Redis answer is in when admission starts.
    const first = (needle: string, from = 0) => lines.findIndex((l, i) => i >= from && l.includes(needle));
    const lease = first(`${prefix}:inproc:${g.id}`);
    expect(lease).toBeGreaterThanOrEqual(0);
    const limit = first(`${prefix}:rl:free:minute:${u.id}`);
    expect(lease).toBeLessThan(limit);
    // The refused request asked too, and gave everything back: no liveness lease, no fairness lease, no slot.
    const leases = lines.filter((l) => l.includes(`${prefix}:inproc:`)).map((l) => /inproc:([0-9a-f-]{36})/.exec(l)![1]);
    expect(new Set(leases).size).toBe(2);
    for (const id of leases) expect(await t.app.redis.exists(`${prefix}:inproc:${id}`)).toBe(0);
    expect(await t.app.redis.zcard(`${prefix}:inflight:${u.id}`)).toBe(0);
    expect(await t.app.ds.query(`SELECT count(*)::int AS n FROM generations WHERE user_id = $1`, [u.id])).toEqual([{ n: 1 }]);
  });

  it("a burst beyond SYNC_IN_PROCESS_SLOTS takes the queue; LOW priority and requests without wait always do", { timeout: 60_000 }, async () => {
    const t = await start({ sync: { inProcess: true, slots: 2 } }, { workers: false });
    const burst = await Promise.all([0, 1, 2, 3].map((i) => create(t, t.adminKey, { ...text(`burst ${i}`), wait: 8, ...slow(1500) })));
    const statuses = burst.map((g) => g.status).sort();
    expect(statuses).toEqual(["QUEUED", "QUEUED", "SUCCEEDED", "SUCCEEDED"]);
    for (const g of burst.filter((x) => x.status === "QUEUED")) expect(await t.app.queue.state(g.id)).toBe("waiting");
    const low = await create(t, t.adminKey, { ...text("low"), wait: 2, priority: "LOW" });
    expect(low.status).toBe("QUEUED");
    expect(await t.app.queue.state(low.id)).toBe("waiting");
  });

  it("USER_MAX_IN_FLIGHT still holds: while others have work queued, a user at the cap takes the queue", { timeout: 60_000 }, async () => {
    const t = await start({ sync: { inProcess: true }, resilience: { userMaxInFlight: 1 } }, { workers: false });
    const a = await t.createUser();
    const b = await t.createUser();
    await create(t, b.key, text("someone else's queued work")); // no worker: it stays QUEUED, so the cap binds
    const two = await Promise.all([0, 1].map((i) => create(t, a.key, { ...text(`capped ${i}`), wait: 6, ...slow(1200) })));
    expect(two.map((g) => g.status).sort()).toEqual(["QUEUED", "SUCCEEDED"]);
    // The lease was released when the run ended: the next request runs in-process again.
    const next = await create(t, a.key, { ...text("after the first ended"), wait: 6 });
    expect(next.status).toBe("SUCCEEDED");
  });

  it("completes a waiting request with fewer Redis commands than the queued path", { timeout: 120_000 }, async () => {
    /** The Redis commands naming the app's prefix while `n` waiting requests run one after another. */
    async function commandsPerRequest(inProcess: boolean, n: number): Promise<number> {
      const t = await start({ sync: { inProcess } });
      const prefix = t.config.redis.prefix;
      for (let i = 0; i < 3; i++) expect((await create(t, t.adminKey, { ...text("warm-up"), wait: 10 })).status).toBe("SUCCEEDED");
      const monitor = await monitorRedis(REDIS_URL, prefix);
      await new Promise((r) => setTimeout(r, 200));
      const before = monitor.count(); // background polling while idle is counted on both sides alike
      for (let i = 0; i < n; i++) expect((await create(t, t.adminKey, { ...text(`counted ${i}`), wait: 10 })).status).toBe("SUCCEEDED");
      await new Promise((r) => setTimeout(r, 300)); // a worker's job completion comes after the answer
      const used = monitor.count() - before;
      monitor.close();
      await t.close();
      apps.splice(apps.indexOf(t), 1);
      return used / n;
    }
    const queued = await commandsPerRequest(false, 20);
    const fast = await commandsPerRequest(true, 20);
    console.log(JSON.stringify({ redisCommandsPerWaitingRequest: { queued, inProcess: fast } }));
    expect(fast).toBeLessThan(queued * 0.6); // about half, measured: no enqueue, pickup, job lock or finish
  });

  it.each([
    ["a waiting request", { wait: 60 }, {}, "connection lost"],
    ["an async request (ASYNC_IN_PROCESS)", {}, { ASYNC_IN_PROCESS: "true" }, "answered"],
  ] as const)("an API process SIGKILLed mid-call on %s: the sweeper re-enqueues it once its lease lapses, a worker finishes it once, charged once, its reservation released once", { timeout: 240_000 }, async (_what, input, env, answered) => {
    // Its in-process workers and sweeper recover the run once the dead process's lease (JOB_LOCK_MS) lapses.
    const t = await start({ worker: { lockMs: 1000 }, sweeper: { intervalMs: 500, graceMs: 1000 } });
    const user = await t.createUser();
    const api = await spawnWorker(t, { SYNC_IN_PROCESS: "true", JOB_LOCK_MS: "1000", ...env }, 120_000, ["serve", "--no-worker"]);
    children.push(api);
    const prompt = `killed mid-call ${Math.random()}`;
    const answer = fetch(`http://127.0.0.1:${api.metricsPort}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${user.key}` },
      body: JSON.stringify({ query: CREATE, variables: { input: { modality: "TEXT", model: "simulated/text", prompt, ...input, ...slow(4000) } } }),
    }).then(async (r) => ((await r.json()) as { data?: unknown }).data ? "answered" : "refused", () => "connection lost");
    const [{ id }] = await until<{ id: string }[]>(
      () => t.app.ds.query(`SELECT g.id FROM generations g JOIN generation_attempts a ON a.generation_id = g.id WHERE g.prompt = $1 AND g.status = 'RUNNING' AND a.status = 'RUNNING'`, [prompt]),
      (rows: unknown[]) => rows.length === 1, 60_000, "the in-process run's attempt",
    );
    const [{ reserved_micros: reserved }] = await t.app.ds.query(`SELECT reserved_micros FROM generations WHERE id = $1`, [id]);
    expect(Number(reserved)).toBeGreaterThan(0);
    const sub = collect<Ev>(t.wsClient(user.key), SUB, { id }, terminal, 90_000);
    await until(() => sub.events.filter((e) => e.type === "DELTA").length, (n) => n >= 2, 30_000, "deltas from the API process");
    // No worker runs it (it has no job): the API process does, under its liveness lease — which the sweeper respects.
    expect(await t.app.queue.state(id)).toBe("missing");
    expect(await t.app.redis.exists(`${t.config.redis.prefix}:inproc:${id}`)).toBe(1);
    api.child.kill("SIGKILL");
    expect(await api.exited).toBe("SIGKILL");
    expect(await answer).toBe(answered);
    const events = await sub.done;
    expect(sub.errors).toEqual([]);
    for (let i = 1; i < events.length; i++) expect(events[i].seq).toBe(events[i - 1].seq + 1);
    const types = events.map((e) => e.type);
    expect(types).toContain("RESTARTED");
    expect(types.at(-1)).toBe("SUCCEEDED");
    const [row] = await t.app.ds.query(`SELECT status, run_attempt, cost_micros, output->>'text' AS text FROM generations WHERE id = $1`, [id]);
    expect([row.status, row.run_attempt]).toEqual(["SUCCEEDED", 2]);
    expect(rebuild(events)).toBe(row.text);
    const attempts = await t.app.ds.query(`SELECT attempt_no, status, error_kind, cost_micros FROM generation_attempts WHERE generation_id = $1 ORDER BY attempt_no`, [id]);
    expect(attempts.map((a: { status: string; error_kind: string | null }) => [a.status, a.error_kind])).toEqual([["FAILED", "worker_lost"], ["SUCCEEDED", null]]);
    const ledger = await t.app.ds.query(`SELECT kind, attempt_no, amount_micros FROM spend_ledger WHERE generation_id = $1 ORDER BY kind, attempt_no`, [id]);
    // Reserved (and extended for the takeover's attempt) as any run is; charged for the one call that finished, released once.
    expect(ledger.filter((l: { kind: string }) => l.kind === "charge" || l.kind === "release").map((l: { kind: string; attempt_no: number }) => [l.kind, l.attempt_no])).toEqual([["charge", 2], ["release", 0]]);
    expect(Number(ledger.find((l: { kind: string }) => l.kind === "charge").amount_micros)).toBe(Number(row.cost_micros));
    const [q] = await t.app.ds.query(`SELECT reserved_micros, spent_micros FROM quota_periods WHERE user_id = $1`, [user.id]);
    expect([Number(q.reserved_micros), Number(q.spent_micros)]).toEqual([0, Number(row.cost_micros)]);
  });
});
