/**
 * Queue controls (issue 17): pauseQueue / resumeQueue (whole queue and one provider, seen by a
 * worker in another process), clearQueue through the cancel path (events, reservations,
 * webhooks), the queue's figures, queuePosition / estimatedStartAt and the QUEUED position events.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { until } from "../helpers/quota";
import { collect, startTestApp, type GqlResult, type TestApp } from "../helpers/test-app";
import { spawnWorker, type WorkerProcess } from "../helpers/worker-process";
import { GenerationEntity } from "../../src/db/entities/generation.entity";

const CREATE = `mutation($input: CreateGenerationInput!) { createGeneration(input: $input) { id status queuePosition estimatedStartAt } }`;
const GET = `query($id: ID!) { generation(id: $id) { id status queuePosition estimatedStartAt } }`;
const STATUS_FIELDS = `paused pausedProviders waiting active delayed byPriority { priority count }`;
const QUEUE = `{ queue { ${STATUS_FIELDS} } }`;
const PAUSE = `mutation($provider: String) { pauseQueue(provider: $provider) { ${STATUS_FIELDS} } }`;
const RESUME = `mutation($provider: String) { resumeQueue(provider: $provider) { ${STATUS_FIELDS} } }`;
const CLEAR = `mutation($filter: ClearQueueFilter) { clearQueue(filter: $filter) }`;
const QUOTA = `query($userId: ID) { quota(userId: $userId) { reservedUsd } }`;
const SUB = `subscription($id: ID!) { generationUpdated(id: $id) { seq type queuePosition estimatedStartAt generation { status } } }`;
const MINE = `subscription { myGenerations { seq type queuePosition estimatedStartAt generation { id status } } }`;
const CREATE_EP = `mutation($url: String!, $events: [WebhookEventType!]!) { createWebhookEndpoint(url: $url, events: $events) { endpoint { id } } }`;

interface Ev {
  seq: number;
  type: string;
  queuePosition: number | null;
  estimatedStartAt: string | null;
  generation: { status: string };
}
interface Status {
  paused: boolean;
  pausedProviders: string[];
  waiting: number;
  active: number;
  delayed: number;
  byPriority: { priority: string; count: number }[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const terminal = (e: Ev) => ["SUCCEEDED", "FAILED", "CANCELLED"].includes(e.type);
const codes = (r: GqlResult) => r.errors?.map((e) => e.extensions?.code);
const text = (prompt: string, extra: Record<string, unknown> = {}) => ({ modality: "TEXT", model: "simulated/text", prompt, ...extra });
let n = 0;
const unique = (s: string) => `${s} #${++n} ${Math.random()}`;

async function create(t: TestApp, key: string, input: Record<string, unknown>): Promise<{ id: string; status: string }> {
  const res = await t.gql(key, CREATE, { input });
  expect(res.errors).toBeUndefined();
  return res.data!.createGeneration;
}
async function get(t: TestApp, id: string): Promise<{ id: string; status: string; queuePosition: number | null; estimatedStartAt: string | null }> {
  const res = await t.gql(t.adminKey, GET, { id });
  expect(res.errors).toBeUndefined();
  return res.data!.generation;
}
const status = (t: TestApp, id: string, want: string, timeoutMs = 60_000) => until(() => get(t, id), (g) => g.status === want, timeoutMs);
async function control(t: TestApp, doc: string, vars: Record<string, unknown> = {}): Promise<Status> {
  const res = await t.gql(t.adminKey, doc, vars);
  expect(res.errors).toBeUndefined();
  return Object.values(res.data!)[0] as Status;
}
async function resumeAll(t: TestApp): Promise<void> {
  const s = await control(t, QUEUE);
  for (const p of s.pausedProviders) await control(t, RESUME, { provider: p });
  if (s.paused) await control(t, RESUME);
}

describe("queue controls", { timeout: 120_000 }, () => {
  let t: TestApp;
  let server: http.Server;
  let base: string;
  const received: { path: string; body: string }[] = [];

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        received.push({ path: req.url ?? "/", body });
        res.writeHead(200).end("ok");
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    t = await startTestApp({
      worker: { concurrency: 2, queuePositionIntervalMs: 250 },
      sync: { inProcess: true }, // the fast path must respect pauses too
      providers: { simulatedExtra: ["simulated-b"], masterKey: "m".repeat(40) },
      webhooks: { allowedHosts: ["127.0.0.1"], backoffBaseMs: 20, timeoutMs: 2000 },
      resilience: { userMaxInFlight: 0 },
      rateLimits: { free: { perMinute: 0, perHour: 0 } },
    });
  }, 60_000);
  afterEach(async () => {
    if (t) await resumeAll(t);
  });
  afterAll(async () => {
    await t?.close();
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r));
  });

  it("non-admins get FORBIDDEN; an unknown provider or a malformed user id is BAD_USER_INPUT", async () => {
    const u = await t.createUser();
    for (const [doc, vars] of [[QUEUE, {}], [PAUSE, {}], [PAUSE, { provider: "simulated" }], [RESUME, {}], [CLEAR, {}], [CLEAR, { filter: { userId: u.id } }]] as const)
      expect(codes(await t.gql(u.key, doc, vars))).toEqual(["FORBIDDEN"]);
    expect((await control(t, QUEUE)).paused).toBe(false); // nothing was paused by the refused calls
    const bad = await t.gql(t.adminKey, PAUSE, { provider: "no-such-provider" });
    expect(codes(bad)).toEqual(["BAD_USER_INPUT"]);
    expect(bad.errors![0].extensions!.field).toBe("provider");
    expect(codes(await t.gql(t.adminKey, CLEAR, { filter: { userId: "not-a-uuid" } }))).toEqual(["BAD_USER_INPUT"]);
    expect(codes(await t.gql(t.adminKey, CLEAR, { filter: { provider: "nope" } }))).toEqual(["BAD_USER_INPUT"]);
    expect(codes(await t.gql(null, QUEUE))).toEqual(["UNAUTHENTICATED"]);
  });

  it("pause: running work finishes, new work stays QUEUED (the in-process fast path too); resume: it runs", async () => {
    const running = await create(t, t.adminKey, text(unique("long"), { params: { simulate: { latencyMs: 1500, steps: 1 } } }));
    await status(t, running.id, "RUNNING");
    const paused = await control(t, PAUSE);
    expect(paused).toMatchObject({ paused: true, pausedProviders: [] });
    const held = await create(t, t.adminKey, text(unique("held")));
    // A waiting request would run in this API process on the fast path: paused, it waits in the queue instead.
    const waited = await create(t, t.adminKey, text(unique("held, waiting"), { wait: 2 }));
    expect(waited.status).toBe("QUEUED");
    await status(t, running.id, "SUCCEEDED");
    await sleep(1000);
    expect((await get(t, held.id)).status).toBe("QUEUED");
    expect((await get(t, waited.id)).status).toBe("QUEUED");
    const s = await control(t, QUEUE);
    expect(s.paused).toBe(true);
    expect(s.waiting).toBe(2);
    expect(s.byPriority).toEqual([{ priority: "HIGH", count: 0 }, { priority: "NORMAL", count: 2 }, { priority: "LOW", count: 0 }]);
    // Paused: a position, but no estimate (nothing drains).
    const g = await get(t, held.id);
    expect(g.queuePosition).toBe(1);
    expect(g.estimatedStartAt).toBeNull();

    expect((await control(t, RESUME)).paused).toBe(false);
    await status(t, held.id, "SUCCEEDED");
    await status(t, waited.id, "SUCCEEDED");
    expect((await get(t, held.id)).queuePosition).toBeNull();
  });

  it("pausing one provider holds only its work; resuming it lets that work run", async () => {
    const s = await control(t, PAUSE, { provider: "simulated-b" });
    expect(s).toMatchObject({ paused: false, pausedProviders: ["simulated-b"] });
    const b = await create(t, t.adminKey, { modality: "TEXT", model: "simulated-b/text", prompt: unique("on b") });
    const bWait = await create(t, t.adminKey, { modality: "TEXT", model: "simulated-b/text", prompt: unique("on b, waiting"), wait: 2 });
    expect(bWait.status).toBe("QUEUED"); // not run in-process either
    const a = await create(t, t.adminKey, text(unique("on simulated")));
    await status(t, a.id, "SUCCEEDED");
    // The worker picked b's job up and parked it (delayed) without claiming it.
    await until(() => control(t, QUEUE), (q) => q.delayed === 2 && q.waiting === 0);
    await sleep(500);
    for (const id of [b.id, bWait.id]) {
      const g = await get(t, id);
      expect(g.status).toBe("QUEUED");
      expect(g.estimatedStartAt).toBeNull();
    }
    const r = await control(t, RESUME, { provider: "simulated-b" });
    expect(r.pausedProviders).toEqual([]);
    await status(t, b.id, "SUCCEEDED");
    await status(t, bWait.id, "SUCCEEDED");
  });

  it("clearQueue cancels only the matching QUEUED generations: CANCELLED to subscribers, reservations released, webhooks fired", async () => {
    const u1 = await t.createUser();
    const u2 = await t.createUser();
    const ep = await t.gql(u1.key, CREATE_EP, { url: `${base}/u1`, events: ["GENERATION_CANCELLED"] });
    expect(ep.errors).toBeUndefined();
    const reserved = async (userId: string) => (await t.gql(t.adminKey, QUOTA, { userId })).data!.quota.reservedUsd as number;

    const running = await create(t, u1.key, text(unique("u1 running"), { params: { simulate: { latencyMs: 2500, steps: 1 } } }));
    await status(t, running.id, "RUNNING");
    await control(t, PAUSE);
    const high = await create(t, u1.key, text(unique("u1 high"), { priority: "HIGH" }));
    const other = await create(t, u2.key, text(unique("u2 normal")));
    const before = await reserved(u1.id);
    const normals = [await create(t, u1.key, text(unique("u1 n1"))), await create(t, u1.key, text(unique("u1 n2")))];
    expect(await reserved(u1.id)).toBeGreaterThan(before);
    const subs = normals.map((g) => collect<Ev>(t.wsClient(t.adminKey), SUB, { id: g.id }, terminal, 20_000));
    await until(async () => subs.every((s) => s.events.length > 0), (ok) => ok); // each saw its SNAPSHOT

    const cleared = await t.gql(t.adminKey, CLEAR, { filter: { userId: u1.id, priority: "NORMAL" } });
    expect(cleared.errors).toBeUndefined();
    expect(cleared.data!.clearQueue).toBe(2);
    for (const s of subs) expect((await s.done).at(-1)!.type).toBe("CANCELLED");
    for (const g of normals) expect((await get(t, g.id)).status).toBe("CANCELLED");
    expect((await get(t, high.id)).status).toBe("QUEUED");
    expect((await get(t, other.id)).status).toBe("QUEUED");
    expect(["RUNNING", "SUCCEEDED"]).toContain((await get(t, running.id)).status); // running work is not queued work
    expect(await reserved(u1.id)).toBeCloseTo(before, 6);
    const hooks = await until(async () => received.filter((r) => r.path === "/u1"), (h) => h.length >= 2);
    const ids = hooks.map((h) => JSON.parse(h.body)).map((b) => { expect(b.type).toBe("generation.cancelled"); return b.data.generation.id as string; });
    expect(ids.sort()).toEqual(normals.map((g) => g.id).sort());

    // By provider and by model: only what matches.
    const onB = await create(t, u2.key, { modality: "TEXT", model: "simulated-b/text", prompt: unique("u2 on b") });
    expect((await t.gql(t.adminKey, CLEAR, { filter: { provider: "simulated-b" } })).data!.clearQueue).toBe(1);
    expect((await get(t, onB.id)).status).toBe("CANCELLED");
    expect((await t.gql(t.adminKey, CLEAR, { filter: { model: "simulated-b/text" } })).data!.clearQueue).toBe(0);
    expect((await t.gql(t.adminKey, CLEAR, { filter: { createdBefore: new Date(Date.now() - 3_600_000).toISOString() } })).data!.clearQueue).toBe(0);
    // No filter: everything still QUEUED.
    expect((await t.gql(t.adminKey, CLEAR, {})).data!.clearQueue).toBe(2);
    expect((await get(t, high.id)).status).toBe("CANCELLED");
    expect((await get(t, other.id)).status).toBe("CANCELLED");
    expect(await reserved(u2.id)).toBe(0);
    await status(t, running.id, "SUCCEEDED");
    expect((await control(t, QUEUE)).waiting).toBe(0);
  });

  it("clearQueue racing a resume (workers taking the same jobs): only never-started work is cancelled, the count is exact, every reservation is released", async () => {
    const u = await t.createUser();
    await control(t, PAUSE);
    const ids = await Promise.all(Array.from({ length: 16 }, (_, i) => create(t, u.key, text(unique(`race ${i}`), { params: { simulate: { latencyMs: 100, steps: 1 } } })).then((g) => g.id)));
    const [cleared] = await Promise.all([t.gql(t.adminKey, CLEAR, { filter: { userId: u.id } }), sleep(20).then(() => control(t, RESUME))]);
    expect(cleared.errors).toBeUndefined();
    const rows = await until(
      () => t.app.ds.query(`SELECT id, status, started_at FROM generations WHERE id = ANY($1::uuid[])`, [ids]) as Promise<{ id: string; status: string; started_at: Date | null }[]>,
      (rs) => rs.every((r) => ["SUCCEEDED", "CANCELLED"].includes(r.status)),
      60_000,
    );
    const cancelled = rows.filter((r) => r.status === "CANCELLED");
    expect(cancelled.length).toBe(cleared.data!.clearQueue);
    for (const r of cancelled) expect(r.started_at).toBeNull(); // a generation a worker had started is never the clear's
    const [{ n }] = await t.app.ds.query(`SELECT count(*)::int AS n FROM generation_attempts WHERE generation_id = ANY($1::uuid[])`, [cancelled.map((r) => r.id)]);
    expect(n).toBe(0);
    expect((await t.gql(t.adminKey, QUOTA, { userId: u.id })).data!.quota.reservedUsd).toBe(0);
  });

  it("a backlog: positions in line order (HIGH first), one QUEUED event while nothing moves, then events as it drains with a future estimate", async () => {
    // All the admin's events, from before the backlog exists: the watcher's first announcement cannot slip past.
    const all = collect<Ev & { generation: { id: string } }>(t.wsClient(t.adminKey), MINE, {}, () => false, 80_000);
    all.done.catch(() => undefined);
    await sleep(300); // the subscription is live (graphql-ws does not acknowledge it)
    // A completion in the last minute, so an estimate exists as soon as the queue resumes (the line can drain
    // before its first job finishes, and with no completion rate there is no estimate).
    await status(t, (await create(t, t.adminKey, text(unique("warm up"), { params: { simulate: { latencyMs: 50, steps: 1 } } }))).id, "SUCCEEDED");
    await control(t, PAUSE);
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) ids.push((await create(t, t.adminKey, text(unique(`backlog ${i}`), { params: { simulate: { latencyMs: 1200, steps: 1 } } }))).id);
    const last = ids.at(-1)!;
    const positions = await Promise.all(ids.map(async (id) => (await get(t, id)).queuePosition));
    expect(positions).toEqual(ids.map((_, i) => i + 1));
    const high = await create(t, t.adminKey, text(unique("backlog high"), { priority: "HIGH", params: { simulate: { latencyMs: 1200, steps: 1 } } }));
    expect((await get(t, high.id)).queuePosition).toBe(1);
    expect((await get(t, last)).queuePosition).toBe(13);

    const queuedEvents = () => all.events.filter((e) => e.generation.id === last && e.type === "QUEUED" && e.seq > 1);
    // The watcher announces the position once; paused, nothing moves, so nothing more comes (it looks every 250 ms).
    await until(async () => queuedEvents().length, (k) => k >= 1);
    await sleep(1500);
    expect(queuedEvents()).toHaveLength(1);
    expect([12, 13]).toContain(queuedEvents()[0].queuePosition); // before or after HIGH joined (12 → 13 is not a material move)
    expect(queuedEvents()[0].estimatedStartAt).toBeNull();

    const resumedAt = Date.now();
    await control(t, RESUME);
    await status(t, last, "SUCCEEDED", 90_000);
    await sleep(300);
    const events = all.events.filter((e) => e.generation.id === last);
    const q = queuedEvents();
    // The paused announcement and at least one more while it drains (each wave of 2 moves it 2 places; on a
    // loaded CI machine a look can span waves, so how many events is not fixed, only that it moved and was told).
    expect(q.length, JSON.stringify(events.map((e) => [e.seq, e.type, e.queuePosition, e.estimatedStartAt]))).toBeGreaterThanOrEqual(2);
    // Each event says something new (a position that moved, or an estimate that appeared or moved), and positions only go down.
    for (let i = 1; i < q.length; i++) {
      expect(q[i].queuePosition!).toBeLessThanOrEqual(q[i - 1].queuePosition!);
      expect(q[i].queuePosition !== q[i - 1].queuePosition || q[i].estimatedStartAt !== q[i - 1].estimatedStartAt).toBe(true);
    }
    expect(q.at(-1)!.queuePosition!).toBeLessThan(12);
    const withEta = q.filter((e) => e.estimatedStartAt);
    expect(withEta.length).toBeGreaterThan(0);
    for (const e of withEta) expect(Date.parse(e.estimatedStartAt!)).toBeGreaterThan(resumedAt);
    // Far fewer events than positions it went through times the watcher's looks; the seq stays gap-free.
    expect(events.at(-1)!.type).toBe("SUCCEEDED");
    for (let i = 1; i < events.length; i++) expect(events[i].seq).toBe(events[i - 1].seq + 1);
  }, 150_000);

  it("a position event from a look that read the row QUEUED, published after the run STARTED, is dropped: QUEUED never follows STARTED", async () => {
    await control(t, PAUSE);
    const g = await create(t, t.adminKey, text(unique("stale look"), { params: { simulate: { latencyMs: 300, steps: 1 } } }));
    const seen = collect<Ev>(t.wsClient(t.adminKey), SUB, { id: g.id }, terminal, 60_000);
    await until(async () => seen.events.length, (k) => k >= 1); // its SNAPSHOT: the subscription is live
    const stale = await t.app.ds.getRepository(GenerationEntity).findOneByOrFail({ id: g.id }); // what the watcher's look read
    expect(stale.status).toBe("QUEUED");
    // Before the run starts, a later QUEUED goes out with the next seq (the watcher may have announced its place already).
    expect((await t.app.bus.sendEvent(stale, { type: "QUEUED", queuePosition: 7, estimatedStartAt: null }, { again: true })).seq).toBeGreaterThan(1);
    await control(t, RESUME);
    await status(t, g.id, "SUCCEEDED");
    // The look's event lands after STARTED: dropped, no seq used.
    expect(await t.app.bus.sendEvent(stale, { type: "QUEUED", queuePosition: 1, estimatedStartAt: null }, { again: true })).toMatchObject({ seq: 0 });
    const events = await seen.done;
    const started = events.findIndex((e) => e.type === "STARTED");
    expect(started).toBeGreaterThan(0);
    expect(events.slice(started).filter((e) => e.type === "QUEUED")).toEqual([]);
    expect(events.filter((e) => e.type === "QUEUED" && e.queuePosition === 7)).toHaveLength(1);
  });

  it("right after a resume, a pickup does not park on the process's stale copy of the pause (a parked job would rejoin at the back of the line)", async () => {
    await control(t, PAUSE);
    const g = await create(t, t.adminKey, text(unique("first in line")));
    const qc = t.app.services.queue;
    expect(await qc.holds(null)).toBe(true); // this process's copy now says paused, for FRESH_MS
    // The pause lifted in Redis by another process (what resume's MULTI does first), within the copy's lifetime.
    await t.app.redis.hdel(`${t.config.redis.prefix}:queue-control`, "*");
    expect(await qc.heldFor(g.id)).toBeNull();
    await control(t, RESUME);
    await status(t, g.id, "SUCCEEDED");
  });

  it("a QUEUED generation read while draining shows a position that decreases and an estimate in the future", async () => {
    await control(t, PAUSE);
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) ids.push((await create(t, t.adminKey, text(unique(`drain ${i}`), { params: { simulate: { latencyMs: 1500, steps: 1 } } }))).id);
    const last = ids.at(-1)!;
    await control(t, RESUME);
    // Jobs a worker took while paused were parked in delayed; the resume promotes them back into the line, ahead
    // of later ones. Sampling starts once none is left parked (before, a promotion moves `last` back: CI saw 5 → 8).
    await until(() => control(t, QUEUE), (s) => s.delayed === 0);
    const seen: { position: number; eta: string | null }[] = [];
    for (;;) {
      const g = await get(t, last);
      if (g.status !== "QUEUED") break;
      if (g.queuePosition !== null) seen.push({ position: g.queuePosition, eta: g.estimatedStartAt });
      await sleep(200);
    }
    expect(seen.length).toBeGreaterThan(2);
    // Never behind where it started, and ahead at the end. Not strictly monotone: one user's jobs parked by the
    // fairness cap leave the set counted ahead and re-enter it when promoted (the position is an upper bound, README).
    for (const s of seen) expect(s.position).toBeLessThanOrEqual(seen[0].position);
    expect(seen.at(-1)!.position).toBeLessThan(seen[0].position);
    const etas = seen.filter((s) => s.eta).map((s) => Date.parse(s.eta!));
    expect(etas.length).toBeGreaterThan(0);
    await status(t, last, "SUCCEEDED", 90_000);
    expect((await get(t, last)).queuePosition).toBeNull();
  }, 150_000);
});

describe("queue controls across processes: a worker in another process sees the pause at once", { timeout: 120_000 }, () => {
  let api: TestApp;
  let worker: WorkerProcess;
  beforeAll(async () => {
    api = await startTestApp({}, { workers: false });
    worker = await spawnWorker(api, { WORKER_CONCURRENCY: "2" });
  }, 120_000);
  afterAll(async () => {
    await worker?.stop();
    await api?.close();
  });

  it("paused, the other process's worker takes nothing; resumed, it runs the work", async () => {
    const warm = await create(api, api.adminKey, text(unique("warm-up")));
    await status(api, warm.id, "SUCCEEDED", 30_000); // the worker process is taking jobs
    await control(api, PAUSE);
    const held = await Promise.all([0, 1, 2].map((i) => create(api, api.adminKey, text(unique(`cross ${i}`)))));
    await sleep(2000);
    for (const g of held) expect((await get(api, g.id)).status).toBe("QUEUED");
    expect((await control(api, QUEUE)).waiting).toBe(3);
    await control(api, RESUME);
    for (const g of held) await status(api, g.id, "SUCCEEDED");
  }, 60_000);

  it("a paused provider: the other process parks its job unclaimed until resumed", async () => {
    await control(api, PAUSE, { provider: "simulated" });
    const g = await create(api, api.adminKey, text(unique("cross provider")));
    await until(() => control(api, QUEUE), (q) => q.delayed === 1 && q.waiting === 0);
    await sleep(1000);
    expect((await get(api, g.id)).status).toBe("QUEUED");
    const [row] = await api.app.ds.query(`SELECT started_at, run_attempt FROM generations WHERE id = $1`, [g.id]);
    expect(row).toMatchObject({ started_at: null, run_attempt: 0 });
    await control(api, RESUME, { provider: "simulated" });
    await status(api, g.id, "SUCCEEDED");
  }, 60_000);
});
