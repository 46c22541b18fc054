/**
 * `npm run bench`: Switchboard against the engines underneath, in one run, as JSON.
 *   (a) bare BullMQ: N jobs added one by one, one worker (concurrency 50)
 *   (b) bare Apollo 5 on express 5: `{ __typename }` at C (and, for reference, from a plain node:http handler,
 *       which is how Switchboard serves Apollo)
 *   (c) Switchboard (serve + in-process workers): N createGeneration at C, one subscriber; also the
 *       same path with one client at a time (the latency floor) and at an open-loop rate of half
 *       the measured completion rate (latency below saturation)
 *   (c4) createGeneration(wait) one client at a time and at C: the synchronous path (in-process, the fast
 *       sync path, as SYNC_IN_PROCESS is on by default; BENCH_SYNC_IN_PROCESS=0 sends it through the queue
 *       for the before/after; BENCH_ASYNC_IN_PROCESS=1 sends (c), (c0), (d) and (e)'s async requests down
 *       the fast path too: ASYNC_IN_PROCESS). Its errors name their first few causes (errorSamples: a
 *       RATE_LIMITED is the bench user's tier limit at C, not a failure of the path)
 *   (d) Redis commands per generation by stage (bench/redis-stages.ts: MONITOR filtered by the run's
 *       prefix, the stage mapping is documented there), beside bare BullMQ's per job, counted over
 *       BENCH_COUNT_N generations/jobs at C apart from the throughput runs (MONITOR slows Redis)
 *   (e) open loop at BENCH_OPEN_RATE/s for BENCH_OPEN_SECONDS: mutation → STARTED and → SUCCEEDED
 *       event, beside bare BullMQ's add → start at the same rate
 *   (f) scale-out (BENCH_SCALE=0 skips it): API nodes A and B (no workers) and worker processes of
 *       BENCH_SCALE_CONCURRENCY slots each, BENCH_SCALE_N generations with BENCH_SCALE_LATENCY_MS of
 *       simulated provider latency sent round-robin to A and B (no affinity), one subscriber on A:
 *       completed/s with 1 then 2 worker processes (also while the mutations were being admitted and after), and B's
 *       generations' SUCCEEDED seen on A
 * Env: BENCH_N (5000), BENCH_C (32), BENCH_COUNT_N (1000), BENCH_OPEN_RATE (200), BENCH_OPEN_SECONDS (5),
 *   BENCH_SCALE_N (320), BENCH_SCALE_CONCURRENCY (8), BENCH_SCALE_LATENCY_MS (200), BENCH_SCALE_STEPS (1: the
 *   latency in one step, one DELTA; more steps add per-chunk events, streaming CPU, to each run),
 *   BENCH_SCALE_USERS (16: users the mutations go to round-robin, one subscriber each; 1 = the one bench user),
 *   BENCH_PROFILE=1 (CPU profile of the Switchboard process), BENCH_ONLY=scale (phase (f) alone).
 */
import { fork, type ChildProcess } from "node:child_process";
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Queue, Worker } from "bullmq";
import { Redis } from "ioredis";
import { createClient } from "graphql-ws";
import WebSocket from "ws";
import http from "node:http";
import { load, post, summarise } from "./load";
import { summariseProfile } from "./profile-summary";
import { monitorStages, perUnit } from "./redis-stages";
import { sampleQueue } from "./queue-sampler";
import { readFileSync } from "node:fs";
import { Client } from "pg";
import { dropRedisPrefix, uniquePrefix } from "../test/helpers/infra";

const N = Number(process.env.BENCH_N ?? 5000);
const C = Number(process.env.BENCH_C ?? 32);
const COUNT_N = Number(process.env.BENCH_COUNT_N ?? 1000);
const OPEN_RATE = Number(process.env.BENCH_OPEN_RATE ?? 200);
const OPEN_SECONDS = Number(process.env.BENCH_OPEN_SECONDS ?? 5);
const SCALE = process.env.BENCH_SCALE !== "0";
/** BENCH_ONLY=scale runs the scale-out phase (f) alone. */
const ONLY = process.env.BENCH_ONLY;
if (ONLY !== undefined && ONLY !== "scale") throw new Error(`BENCH_ONLY: "scale" or unset, not "${ONLY}"`);
const SCALE_N = Number(process.env.BENCH_SCALE_N ?? 320);
const SCALE_CONCURRENCY = Number(process.env.BENCH_SCALE_CONCURRENCY ?? 8);
const SCALE_LATENCY_MS = Number(process.env.BENCH_SCALE_LATENCY_MS ?? 200);
/** Paced steps (one DELTA event each) over the simulated latency: 1 keeps the provider's latency, not streaming CPU, dominating. */
const SCALE_STEPS = Number(process.env.BENCH_SCALE_STEPS ?? 1);
/**
 * Users the scale-out mutations are spread over, round-robin (enterprise tier each). Every admission and
 * every success of a user locks that user's quota_periods row, so with 1 the phase measures that row's
 * serialisation; the default 16 keeps any one row from serialising the run (1 = the one bench user, as before).
 */
const SCALE_USERS = Number(process.env.BENCH_SCALE_USERS ?? 16);
if (!(Number.isInteger(SCALE_USERS) && SCALE_USERS >= 1)) throw new Error(`BENCH_SCALE_USERS: an integer >= 1, not "${process.env.BENCH_SCALE_USERS}"`);
const REDIS = "redis://127.0.0.1:6379";
const results = join(__dirname, "results");

function child(script: string, extraArgs: string[] = [], env: Record<string, string> = {}): Promise<{ proc: ChildProcess; info: any }> {
  const proc = fork(join(__dirname, script), [], { execArgv: ["-r", "ts-node/register/transpile-only", ...extraArgs], stdio: ["ignore", "inherit", "inherit", "ipc"], env: { ...process.env, ...env } });
  return new Promise((resolve, reject) => {
    proc.once("message", (info) => resolve({ proc, info }));
    proc.once("exit", (code) => reject(new Error(`${script} exited with ${code}`)));
  });
}
const ask = (proc: ChildProcess, cmd: string) =>
  new Promise<any>((resolve) => {
    proc.once("message", resolve);
    proc.send({ cmd });
  });

async function bareBullmq() {
  const prefix = uniquePrefix();
  const connection = new Redis(REDIS, { maxRetriesPerRequest: null });
  const queue = new Queue("bench", { connection, prefix });
  let done = 0;
  let finish!: () => void;
  const finished = new Promise<void>((r) => (finish = r));
  const worker = new Worker("bench", async () => "ok", { connection, prefix, concurrency: 50 });
  worker.on("completed", () => ++done === N && finish());
  await worker.waitUntilReady();
  const t0 = performance.now();
  for (let i = 0; i < N; i++) await queue.add("job", { i }, { removeOnComplete: true });
  await finished;
  const seconds = (performance.now() - t0) / 1000;
  await worker.close();
  await queue.close();
  connection.disconnect();
  await dropRedisPrefix(prefix);
  return { jobs: N, seconds: Math.round(seconds * 1000) / 1000, jobsPerSecond: Math.round(N / seconds) };
}

/** Bare BullMQ's Redis commands per job (the same MONITOR count as Switchboard's): COUNT_N jobs at C. */
async function bareBullmqCommands() {
  const prefix = uniquePrefix();
  const connection = new Redis(REDIS, { maxRetriesPerRequest: null });
  const queue = new Queue("bench", { connection, prefix });
  let done = 0;
  let finish!: () => void;
  const finished = new Promise<void>((r) => (finish = r));
  const worker = new Worker("bench", async () => "ok", { connection, prefix, concurrency: 50 });
  worker.on("completed", () => ++done === COUNT_N && finish());
  await worker.waitUntilReady();
  await queue.add("warm", {}, { removeOnComplete: true });
  await new Promise((r) => setTimeout(r, 300));
  done = 0;
  const mon = await monitorStages(REDIS, prefix, "bench");
  let next = 0;
  await Promise.all(Array.from({ length: C }, async () => {
    while (next < COUNT_N) (next++, await queue.add("job", { i: next }, { removeOnComplete: true }));
  }));
  await finished;
  await new Promise((r) => setTimeout(r, 500));
  const counts = perUnit(mon.counts(), COUNT_N);
  mon.close();
  await worker.close();
  await queue.close();
  connection.disconnect();
  await dropRedisPrefix(prefix);
  return { jobs: COUNT_N, ...counts };
}

/** Bare BullMQ at an open-loop rate: add → start latency (the processor's first line). */
async function bareBullmqOpenLoop(rate: number, seconds: number) {
  const prefix = uniquePrefix();
  const connection = new Redis(REDIS, { maxRetriesPerRequest: null });
  const queue = new Queue("bench", { connection, prefix });
  const total = Math.round(rate * seconds);
  const addToStart: number[] = [];
  let finish!: () => void;
  const finished = new Promise<void>((r) => (finish = r));
  const worker = new Worker("bench", async (job) => {
    addToStart.push(performance.now() - (job.data as { t: number }).t);
    if (addToStart.length === total) finish();
    return "ok";
  }, { connection, prefix, concurrency: 50 });
  await worker.waitUntilReady();
  const start = performance.now();
  for (let i = 0; i < total; i++) {
    const wait = start + (i * 1000) / rate - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    void queue.add("job", { t: performance.now() }, { removeOnComplete: true });
  }
  const timeout = setTimeout(finish, 30_000);
  await finished;
  clearTimeout(timeout);
  await worker.close();
  await queue.close();
  connection.disconnect();
  await dropRedisPrefix(prefix);
  return { perSecond: rate, jobs: total, started: addToStart.length, addToStartMs: summarise(addToStart) };
}

async function bareApollo(script = "bare-apollo.server.ts") {
  const { proc, info } = await child(script);
  const url = `http://127.0.0.1:${info.port}/graphql`;
  const body = JSON.stringify({ query: "{ __typename }" });
  await load({ url, concurrency: C, total: 2000, body: () => body }); // warm-up
  const r = await load({ url, concurrency: C, total: N, body: () => body });
  proc.kill();
  return r;
}

async function switchboard() {
  const profile = process.env.BENCH_PROFILE === "1";
  const profDir = join(results, `profile-${Date.now()}`);
  const { proc, info } = await child("switchboard.server.ts", profile ? ["--cpu-prof", `--cpu-prof-dir=${profDir}`] : []);
  const url = `http://127.0.0.1:${info.port}/graphql`;
  const headers = { authorization: `Bearer ${info.key}` };
  const ws = createClient({ url: url.replace("http", "ws"), webSocketImpl: WebSocket, connectionParams: headers });
  const succeededAt = new Map<string, number>();
  const startedAt = new Map<string, number>();
  let onSucceeded: (() => void) | undefined;
  ws.subscribe<{ myGenerations: { type: string; generationId?: string; generation: { id: string } } }>(
    { query: "subscription { myGenerations { type generation { id } } }" },
    {
      next: ({ data }) => {
        if (data?.myGenerations.type === "STARTED") startedAt.set(data.myGenerations.generation.id, performance.now());
        if (data?.myGenerations.type === "SUCCEEDED") {
          succeededAt.set(data.myGenerations.generation.id, performance.now());
          onSucceeded?.();
        }
      },
      error: (e) => console.error("subscription error", e),
      complete: () => undefined,
    },
  );
  const mutation = (p: string) => JSON.stringify({ query: "mutation($p: String!) { createGeneration(input: {modality: TEXT, model: \"simulated/text\", prompt: $p}) { id } }", variables: { p } });
  // Warm-up until the subscription is provably live, then 500 more.
  for (let live = false; !live; ) {
    onSucceeded = () => (live = true);
    await load({ url, concurrency: 1, total: 1, headers, body: () => mutation("warm-up") });
    await new Promise((r) => setTimeout(r, 200));
  }
  await load({ url, concurrency: C, total: 500, headers, body: (i) => mutation(`warm ${i}`) });
  await new Promise((r) => setTimeout(r, 1000));

  // (c0) One client, one generation at a time: the latency floor of the whole path on this machine.
  const idleAgent = new http.Agent({ keepAlive: true });
  const idleAccept: number[] = [];
  const idleEvent: number[] = [];
  for (let i = 0; i < 200; i++) {
    const sent = performance.now();
    let mine = "";
    const seen = new Promise<void>((r) => (onSucceeded = () => mine && succeededAt.has(mine) && r()));
    const b = await post(url, idleAgent, headers, mutation(`idle ${i} ${Math.random()}`));
    idleAccept.push(performance.now() - sent);
    mine = b.data.createGeneration.id;
    if (!succeededAt.has(mine)) await seen;
    idleEvent.push(succeededAt.get(mine)! - sent);
  }
  idleAgent.destroy();
  succeededAt.clear();
  await ask(proc, "reset");

  const sentAt = new Map<string, number>();
  let allDone!: () => void;
  const completed = new Promise<void>((r) => (allDone = r));
  onSucceeded = () => succeededAt.size >= N && allDone();
  const t0 = performance.now();
  const accept = await load({
    url, concurrency: C, total: N, headers,
    body: (i) => mutation(`bench prompt ${i} ${Math.random()}`),
    onResponse: (b, at) => b?.data?.createGeneration?.id && sentAt.set(b.data.createGeneration.id, at),
  });
  const timeout = setTimeout(() => allDone(), 180_000);
  await completed;
  clearTimeout(timeout);
  const lastDone = Math.max(...succeededAt.values());
  const stats = await ask(proc, "stats");
  const eventLatency = summarise([...sentAt].filter(([id]) => succeededAt.has(id)).map(([id, at]) => succeededAt.get(id)! - at));
  const succeededEvents = succeededAt.size;
  const completedPerSecond = Math.round(succeededEvents / ((lastDone - t0) / 1000));

  // (d) Redis commands per generation by stage: COUNT_N more at C with MONITOR on (apart from the
  // throughput run: MONITOR slows Redis), from idle to the last SUCCEEDED and a settle for the finish.
  await new Promise((r) => setTimeout(r, 1000));
  succeededAt.clear();
  const mon = await monitorStages(REDIS, info.prefix);
  let countDone!: () => void;
  const counted = new Promise<void>((r) => (countDone = r));
  onSucceeded = () => succeededAt.size >= COUNT_N && countDone();
  await load({ url, concurrency: C, total: COUNT_N, headers, body: (i) => mutation(`count ${i} ${Math.random()}`) });
  const countTimeout = setTimeout(() => countDone(), 120_000);
  await counted;
  clearTimeout(countTimeout);
  await new Promise((r) => setTimeout(r, 1000));
  const redisByStage = { generations: COUNT_N, ...perUnit(mon.counts(), COUNT_N) };
  mon.close();
  await new Promise((r) => setTimeout(r, 500));

  // (c2)/(e) The same path below saturation: an open-loop arrival rate (BENCH_OPEN_RATE), so the
  // latency is processing time, not time spent waiting in a backlog.
  const rate = OPEN_RATE;
  const openN = Math.round(rate * OPEN_SECONDS);
  const openSent = new Map<string, number>();
  succeededAt.clear();
  startedAt.clear();
  let openDone!: () => void;
  const openFinished = new Promise<void>((r) => (openDone = r));
  onSucceeded = () => succeededAt.size >= openN && openDone();
  const openAccept: number[] = [];
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const openStart = performance.now();
  for (let i = 0; i < openN; i++) {
    const due = openStart + (i * 1000) / rate; // fixed arrival schedule, independent of responses
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const sent = performance.now();
    void post(url, agent, headers, mutation(`open ${i} ${Math.random()}`)).then((b) => {
      if (b?.data?.createGeneration?.id) openSent.set(b.data.createGeneration.id, sent);
      openAccept.push(performance.now() - sent);
    });
  }
  const openTimeout = setTimeout(() => openDone(), 60_000);
  await openFinished;
  clearTimeout(openTimeout);
  agent.destroy();
  const openEvent = summarise([...openSent].filter(([id]) => succeededAt.has(id)).map(([id, at]) => succeededAt.get(id)! - at));
  const openStarted = summarise([...openSent].filter(([id]) => startedAt.has(id)).map(([id, at]) => startedAt.get(id)! - at));
  // (c3) Exact-cache hits at C: the same seeded request over and over (served without a worker).
  const seeded = JSON.stringify({ query: 'mutation { createGeneration(input: {modality: TEXT, model: "simulated/text", prompt: "cached answer", seed: 1, wait: 10}) { id cached } }' });
  await post(url, new http.Agent(), headers, seeded);
  const hits = await load({ url, concurrency: C, total: 2000, headers, body: () => seeded });
  // (c4) createGeneration(wait): the synchronous path (in-process when SYNC_IN_PROCESS is on, its default), one client and at C.
  const waiting = (p: string) => JSON.stringify({ query: "mutation($p: String!) { createGeneration(input: {modality: TEXT, model: \"simulated/text\", prompt: $p, wait: 10}) { id status } }", variables: { p } });
  const waitOne = await load({ url, concurrency: 1, total: 300, headers, body: (i) => waiting(`wait one ${i} ${Math.random()}`) });
  const waitC = await load({ url, concurrency: C, total: 2000, headers, body: (i) => waiting(`wait C ${i} ${Math.random()}`) });

  await ws.dispose();
  proc.send({ cmd: "stop" });
  await new Promise((r) => proc.once("exit", r));
  const out: Record<string, unknown> = {
    generations: N,
    acceptErrors: accept.errors,
    succeededEvents,
    acceptedPerSecond: accept.perSecond,
    completedPerSecond,
    acceptLatencyMs: accept.latencyMs,
    succeededEventLatencyMs: eventLatency,
    sqlStatementsPerGeneration: Math.round((stats.sql / N) * 100) / 100,
    redisCommandsPerGeneration: redisByStage,
    peakRssMb: Math.round(stats.peakRss / 1048576),
    exactCacheHits: { requests: hits.requests, errors: hits.errors, perSecond: hits.perSecond, latencyMs: hits.latencyMs },
    createGenerationWait: {
      syncInProcess: process.env.BENCH_SYNC_IN_PROCESS !== "0", // SYNC_IN_PROCESS is on by default
      oneClient: { requests: waitOne.requests, errors: waitOne.errors, latencyMs: waitOne.latencyMs },
      atC: { requests: waitC.requests, errors: waitC.errors, errorSamples: waitC.errorSamples, perSecond: waitC.perSecond, latencyMs: waitC.latencyMs },
    },
    oneClientIdle: { generations: 200, acceptLatencyMs: summarise(idleAccept), succeededEventLatencyMs: summarise(idleEvent) },
    belowSaturation: { openLoopPerSecond: rate, generations: openN, succeeded: openSent.size && [...openSent.keys()].filter((id) => succeededAt.has(id)).length, acceptLatencyMs: summarise(openAccept), startedEventLatencyMs: openStarted, succeededEventLatencyMs: openEvent },
  };
  if (profile) {
    const file = readdirSync(profDir).find((f) => f.endsWith(".cpuprofile"));
    if (file) out.cpuProfile = { file: join(profDir, file), ...summariseProfile(join(profDir, file)) };
  }
  return out;
}

/** Machine-wide CPU jiffies (idle, total) from /proc/stat: how busy the box was during a phase. */
function machineCpu(): { idle: number; total: number } {
  const f = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
  return { idle: f[3] + f[4], total: f.reduce((x, y) => x + y, 0) };
}

/** The phase's generations (by prompt label) from the database: started → completed, and the upstream call, in ms. */
async function runTimes(dbUrl: string, label: string) {
  const pg = new Client({ connectionString: dbUrl });
  await pg.connect();
  const { rows } = await pg.query<{ run: number; upstream: number; queued: number }>(
    `SELECT EXTRACT(EPOCH FROM g.completed_at - g.started_at) * 1000 AS run, a.latency_ms AS upstream, EXTRACT(EPOCH FROM g.started_at - g.created_at) * 1000 AS queued
       FROM generations g JOIN generation_attempts a ON a.generation_id = g.id AND a.status = 'SUCCEEDED'
      WHERE g.prompt LIKE $1 AND g.status = 'SUCCEEDED'`,
    [`${label} %`],
  );
  await pg.end();
  return { count: rows.length, startedToCompletedMs: summarise(rows.map((r) => Number(r.run))), upstreamCallMs: summarise(rows.map((r) => Number(r.upstream))) };
}

/**
 * (f) Scale-out with provider latency dominating: API nodes A and B without workers, worker
 * processes apart, all on one database and prefix. Generations go round-robin to A and B (no
 * affinity); the one subscriber is on A. Completed/s with 1, then 2, worker processes; and B's
 * generations (their work done by a worker process, published from there) seen SUCCEEDED on A.
 */
async function scaleOut() {
  // The scale-out measures the queue between API nodes and workers: async requests go through it (ASYNC_IN_PROCESS off).
  const a = await child("switchboard.server.ts", [], { BENCH_ROLE: "api", BENCH_ASYNC_IN_PROCESS: "0" });
  const join = { BENCH_JOIN_DB_URL: a.info.dbUrl, BENCH_JOIN_PREFIX: a.info.prefix };
  const worker = () => child("switchboard.server.ts", [], { ...join, BENCH_ROLE: "worker", BENCH_WORKER_CONCURRENCY: String(SCALE_CONCURRENCY) });
  const [b, w1] = await Promise.all([child("switchboard.server.ts", [], { ...join, BENCH_ROLE: "api", BENCH_ASYNC_IN_PROCESS: "0" }), worker()]);
  const procs = [a.proc, b.proc, w1.proc];
  const urls = [a.info.port, b.info.port].map((p) => `http://127.0.0.1:${p}/graphql`);
  // The load's users: the bench user alone (SCALE_USERS = 1), else SCALE_USERS new enterprise USERs, created
  // through createUser by the bench user made ADMIN (in the database, before any node has seen its key).
  let keys = [a.info.key as string];
  if (SCALE_USERS > 1) {
    const pg = new Client({ connectionString: a.info.dbUrl });
    await pg.connect();
    await pg.query("UPDATE users SET role = 'ADMIN' WHERE id = $1", [a.info.userId]);
    await pg.end();
    const admin = new http.Agent({ keepAlive: true });
    keys = [];
    for (let u = 0; u < SCALE_USERS; u++) {
      const created = await post(urls[0], admin, { authorization: `Bearer ${a.info.key}` }, JSON.stringify({
        query: "mutation($e: String!) { createUser(email: $e, role: USER, tier: ENTERPRISE) { secret } }",
        variables: { e: `scale-${u}@bench.local` },
      }));
      if (!created?.data?.createUser?.secret) throw new Error(`createUser: ${JSON.stringify(created?.errors ?? created).slice(0, 300)}`);
      keys.push(created.data.createUser.secret);
    }
    admin.destroy();
  }
  const userHeaders = keys.map((k) => ({ authorization: `Bearer ${k}` }));
  const succeededAt = new Map<string, number>();
  let onSucceeded: (() => void) | undefined;
  // One subscriber per user (myGenerations is the viewer's), all on A.
  const subscribers = userHeaders.map((headers) => {
    const ws = createClient({ url: urls[0].replace("http", "ws"), webSocketImpl: WebSocket, connectionParams: headers });
    ws.subscribe<{ myGenerations: { type: string; generation: { id: string } } }>(
      { query: "subscription { myGenerations { type generation { id } } }" },
      {
        next: ({ data }) => {
          if (data?.myGenerations.type !== "SUCCEEDED") return;
          succeededAt.set(data.myGenerations.generation.id, performance.now());
          onSucceeded?.();
        },
        error: (e) => console.error("subscription error", e),
        complete: () => undefined,
      },
    );
    return ws;
  });
  const mutation = (p: string) => JSON.stringify({
    query: "mutation($p: String!, $params: JSON) { createGeneration(input: {modality: TEXT, model: \"simulated/text\", prompt: $p, params: $params}) { id } }",
    variables: { p, params: { simulate: { latencyMs: SCALE_LATENCY_MS, steps: SCALE_STEPS } } },
  });
  // Until every user's subscription is provably live: a warm-up generation of each, sent to B, seen on A.
  for (let live = new Set<string>(), pending = userHeaders.map((_, u) => u); pending.length; ) {
    const ids = await Promise.all(pending.map(async (u) => [u, (await post(urls[1], new http.Agent(), userHeaders[u], mutation(`warm-up ${Math.random()}`)))?.data?.createGeneration?.id] as const));
    await new Promise((r) => setTimeout(r, 500));
    for (const [, id] of ids) if (id && succeededAt.has(id)) live.add(id);
    pending = ids.filter(([, id]) => !(id && live.has(id))).map(([u]) => u);
  }
  const phase = async (label: string) => {
    succeededAt.clear();
    const sent = new Map<string, { at: number; node: number }>();
    let done!: () => void;
    const finished = new Promise<void>((r) => (done = r));
    // Done once every accepted generation is seen (a refused mutation is counted, not waited for).
    let target = SCALE_N;
    onSucceeded = () => succeededAt.size >= target && done();
    const refused: string[] = [];
    const agents = urls.map(() => new http.Agent({ keepAlive: true, maxSockets: C }));
    const queue = sampleQueue(REDIS, a.info.prefix);
    const cpu0 = await Promise.all(procs.map((p) => ask(p, "stats")));
    const machine0 = machineCpu();
    const wall0 = Date.now();
    const t0 = performance.now();
    let next = 0;
    await Promise.all(Array.from({ length: C }, async () => {
      while (next < SCALE_N) {
        const i = next++;
        // Users round-robin in pairs, so each user's mutations go to both nodes (no affinity).
        const node = i % 2;
        const user = Math.floor(i / 2) % SCALE_USERS;
        const at = performance.now();
        const body = await post(urls[node], agents[node], userHeaders[user], mutation(`${label} ${i} ${Math.random()}`));
        if (body?.data?.createGeneration?.id) sent.set(body.data.createGeneration.id, { at, node });
        else refused.push(JSON.stringify(body?.errors?.[0]?.extensions?.code ?? body?.errors?.[0]?.message ?? body).slice(0, 120));
      }
    }));
    const acceptEnd = performance.now();
    const acceptSeconds = (acceptEnd - t0) / 1000;
    target = sent.size;
    onSucceeded();
    const timeout = setTimeout(() => done(), 120_000);
    await finished;
    clearTimeout(timeout);
    agents.forEach((x) => x.destroy());
    const queueDuring = await queue.stop();
    const cpu1 = await Promise.all(procs.map((p) => ask(p, "stats")));
    const machine1 = machineCpu();
    const wallSeconds = (Date.now() - wall0) / 1000;
    const runs = await runTimes(a.info.dbUrl, label);
    const seen = [...sent].filter(([id]) => succeededAt.has(id));
    const last = Math.max(...seen.map(([id]) => succeededAt.get(id)!));
    // While mutations are still being admitted, and after: one user's admissions and completions serialize on its quota row.
    const doneWhileAccepting = seen.filter(([id]) => succeededAt.get(id)! <= acceptEnd).length;
    const perSecond = (n: number, ms: number) => (ms > 0 ? Math.round((n / (ms / 1000)) * 10) / 10 : 0);
    const fromB = [...sent].filter(([, s]) => s.node === 1);
    const fromBSeen = fromB.filter(([id]) => succeededAt.has(id));
    return {
      generations: SCALE_N,
      accepted: sent.size,
      ...(refused.length ? { refused } : {}),
      succeededSeenOnA: seen.length,
      completedPerSecond: Math.round((seen.length / ((last - t0) / 1000)) * 10) / 10,
      acceptSeconds: Math.round(acceptSeconds * 100) / 100,
      completedPerSecondWhileAccepting: perSecond(doneWhileAccepting, acceptEnd - t0),
      completedPerSecondAfterAccepting: perSecond(seen.length - doneWhileAccepting, last - acceptEnd),
      queue: queueDuring,
      // Where the time went: each run's started → completed and its upstream call, and CPU per process (A, B, workers…).
      runs,
      cpuCoresUsed: Object.fromEntries(procs.map((_, k) => [["apiA", "apiB"][k] ?? `worker${k - 1}`, Math.round(((cpu1[k].cpuMs - cpu0[k].cpuMs) / 1000 / wallSeconds) * 100) / 100])),
      machineBusy: Math.round((1 - (machine1.idle - machine0.idle) / (machine1.total - machine0.total)) * 100) / 100,
      sentToB: fromB.length,
      sentToBSeenSucceededOnA: fromBSeen.length,
      sentToBMutationToSucceededOnAMs: summarise(fromBSeen.map(([id, s]) => succeededAt.get(id)! - s.at)),
    };
  };
  const one = await phase("one worker");
  const w2 = await worker();
  procs.push(w2.proc);
  await new Promise((r) => setTimeout(r, 500));
  const two = await phase("two workers");
  await Promise.all(subscribers.map((ws) => ws.dispose()));
  // Joiners first: A created the database and prefix and drops them.
  for (const p of procs.slice(1)) {
    p.send({ cmd: "stop" });
    await new Promise((r) => p.once("exit", r));
  }
  a.proc.send({ cmd: "stop" });
  await new Promise((r) => a.proc.once("exit", r));
  return {
    providerLatencyMs: SCALE_LATENCY_MS,
    /** Users the mutations were spread over (BENCH_SCALE_USERS; 1: one quota row serialises admissions and completions). */
    users: SCALE_USERS,
    workerConcurrencyPerProcess: SCALE_CONCURRENCY,
    apiNodes: 2,
    oneWorkerProcess: one,
    twoWorkerProcesses: two,
    twoVsOneWorker: Math.round((two.completedPerSecond / one.completedPerSecond) * 100) / 100,
    /** The same ratio once every mutation was admitted (no admission holding the user's quota row). */
    twoVsOneWorkerAfterAccepting: Math.round((two.completedPerSecondAfterAccepting / one.completedPerSecondAfterAccepting) * 100) / 100,
    crossNodeWorks: two.sentToB > 0 && two.sentToBSeenSucceededOnA === two.sentToB && one.sentToBSeenSucceededOnA === one.sentToB,
  };
}

function write(report: object): never {
  const json = JSON.stringify(report, null, 2);
  writeFileSync(join(results, `bench-${Date.now()}.json`), json);
  console.log(json);
  process.exit(0);
}

const scaleTargets = (scale: Awaited<ReturnType<typeof scaleOut>>) => ({ "scale-out: 2 workers >= 1.8 x 1 worker": scale.twoVsOneWorker >= 1.8, "scale-out: B's work seen on A": scale.crossNodeWorks });

async function main() {
  mkdirSync(results, { recursive: true });
  const machine = { cpus: require("node:os").cpus().length, node: process.version };
  if (ONLY === "scale") {
    const scale = await scaleOut();
    write({ bench: "switchboard-scale-out", at: new Date().toISOString(), machine, params: { SCALE_N, SCALE_CONCURRENCY, SCALE_LATENCY_MS, SCALE_STEPS, SCALE_USERS }, scaleOut: scale, targets: scaleTargets(scale) });
  }
  const bullmq = await bareBullmq();
  const apollo = await bareApollo();
  const apolloPlainHttp = await bareApollo("bare-apollo-http.server.ts");
  const bullmqCommands = await bareBullmqCommands();
  const bullmqOpen = await bareBullmqOpenLoop(OPEN_RATE, OPEN_SECONDS);
  const sb = await switchboard();
  const scale = SCALE ? await scaleOut() : undefined;
  const open = sb.belowSaturation as { startedEventLatencyMs: { p50: number; p99: number }; succeededEventLatencyMs: { p50: number; p99: number } };
  const cmds = sb.redisCommandsPerGeneration as { sent: number; executed: number };
  const acceptP50 = (sb.acceptLatencyMs as { p50: number }).p50;
  const eventP50 = (sb.succeededEventLatencyMs as { p50: number }).p50;
  const report = {
    bench: "switchboard-vs-engines",
    at: new Date().toISOString(),
    machine,
    params: { N, C, COUNT_N, OPEN_RATE, OPEN_SECONDS, SCALE_N, SCALE_CONCURRENCY, SCALE_LATENCY_MS, SCALE_STEPS, SCALE_USERS, asyncInProcess: process.env.BENCH_ASYNC_IN_PROCESS === "1" },
    bareBullmq: { ...bullmq, redisCommandsPerJob: bullmqCommands, openLoop: bullmqOpen },
    bareApollo: apollo,
    bareApolloPlainNodeHttp: apolloPlainHttp,
    switchboard: sb,
    scaleOut: scale,
    ratios: {
      redisCommandsSentPerGenerationVsBullmqPerJob: Math.round((cmds.sent / bullmqCommands.sent) * 100) / 100,
      redisCommandsExecutedPerGenerationVsBullmqPerJob: Math.round((cmds.executed / bullmqCommands.executed) * 100) / 100,
      openLoopStartedP50VsBullmqAddToStartP50: Math.round((open.startedEventLatencyMs.p50 / bullmqOpen.addToStartMs.p50) * 100) / 100,
      completedPerSecondVsBullmq: Math.round(((sb.completedPerSecond as number) / bullmq.jobsPerSecond) * 1000) / 1000,
      acceptP50VsApolloP50: Math.round((acceptP50 / apollo.latencyMs.p50) * 100) / 100,
      exactHitP50VsApolloP50: Math.round(((sb.exactCacheHits as { latencyMs: { p50: number } }).latencyMs.p50 / apollo.latencyMs.p50) * 100) / 100,
    },
    targets: {
      "exact-hit p50 <= 3 x bare Apollo p50": ((sb.exactCacheHits as { latencyMs: { p50: number } }).latencyMs.p50) <= 3 * apollo.latencyMs.p50,
      "completed/s >= 0.12 x bare BullMQ": (sb.completedPerSecond as number) >= 0.12 * bullmq.jobsPerSecond,
      "accept p50 <= 3 x bare Apollo p50": acceptP50 <= 3 * apollo.latencyMs.p50,
      "SUCCEEDED event p50 <= 15 ms": eventP50 <= 15,
      "completed/s >= 0.25 x bare BullMQ (issue 19)": (sb.completedPerSecond as number) >= 0.25 * bullmq.jobsPerSecond,
      "Redis commands sent per generation <= 25": cmds.sent <= 25,
      "Redis commands executed per generation <= 25 (incl. inside scripts)": cmds.executed <= 25,
      "open loop: STARTED p50 <= 2 x bare BullMQ add->start p50": open.startedEventLatencyMs.p50 <= 2 * bullmqOpen.addToStartMs.p50,
      "open loop: SUCCEEDED p50 <= 10 ms": open.succeededEventLatencyMs.p50 <= 10,
      "open loop: SUCCEEDED p99 <= 50 ms": open.succeededEventLatencyMs.p99 <= 50,
      ...(scale ? scaleTargets(scale) : {}),
    },
  };
  write(report);
}
void main();
