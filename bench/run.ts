/**
 * `npm run bench`: Switchboard against the engines underneath, in one run, as JSON.
 *   (a) bare BullMQ: N jobs added one by one, one worker (concurrency 50)
 *   (b) bare Apollo 5 on express 5: `{ __typename }` at C (and, for reference, from a plain node:http handler,
 *       which is how Switchboard serves Apollo)
 *   (c) Switchboard (serve + in-process workers): N createGeneration at C, one subscriber; also the
 *       same path with one client at a time (the latency floor) and at an open-loop rate of half
 *       the measured completion rate (latency below saturation)
 *   (c4) createGeneration(wait) one client at a time and at C: the synchronous path (through the queue;
 *       BENCH_SYNC_IN_PROCESS=1 runs it in-process, the fast sync path, for the before/after)
 * Env: BENCH_N (5000), BENCH_C (32), BENCH_PROFILE=1 (CPU profile of the Switchboard process).
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
import { dropRedisPrefix, uniquePrefix } from "../test/helpers/infra";

const N = Number(process.env.BENCH_N ?? 5000);
const C = Number(process.env.BENCH_C ?? 32);
const REDIS = "redis://127.0.0.1:6379";
const results = join(__dirname, "results");

function child(script: string, extraArgs: string[] = []): Promise<{ proc: ChildProcess; info: any }> {
  const proc = fork(join(__dirname, script), [], { execArgv: ["-r", "ts-node/register/transpile-only", ...extraArgs], stdio: ["ignore", "inherit", "inherit", "ipc"] });
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

async function bareApollo(script = "bare-apollo.server.ts") {
  const { proc, info } = await child(script);
  const url = `http://127.0.0.1:${info.port}/graphql`;
  const body = JSON.stringify({ query: "{ __typename }" });
  await load({ url, concurrency: C, total: 2000, body: () => body }); // warm-up
  const r = await load({ url, concurrency: C, total: N, body: () => body });
  proc.kill();
  return r;
}

async function redisCommands(): Promise<number> {
  const r = new Redis(REDIS);
  const info = await r.info("stats");
  r.disconnect();
  return Number(/total_commands_processed:(\d+)/.exec(info)![1]);
}

async function switchboard() {
  const profile = process.env.BENCH_PROFILE === "1";
  const profDir = join(results, `profile-${Date.now()}`);
  const { proc, info } = await child("switchboard.server.ts", profile ? ["--cpu-prof", `--cpu-prof-dir=${profDir}`] : []);
  const url = `http://127.0.0.1:${info.port}/graphql`;
  const headers = { authorization: `Bearer ${info.key}` };
  const ws = createClient({ url: url.replace("http", "ws"), webSocketImpl: WebSocket, connectionParams: headers });
  const succeededAt = new Map<string, number>();
  let onSucceeded: (() => void) | undefined;
  ws.subscribe<{ myGenerations: { type: string; generationId?: string; generation: { id: string } } }>(
    { query: "subscription { myGenerations { type generation { id } } }" },
    {
      next: ({ data }) => {
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
  const redis0 = await redisCommands();

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
  const redisCmds = (await redisCommands()) - redis0;
  const stats = await ask(proc, "stats");
  const eventLatency = summarise([...sentAt].filter(([id]) => succeededAt.has(id)).map(([id, at]) => succeededAt.get(id)! - at));
  const succeededEvents = succeededAt.size;
  const completedPerSecond = Math.round(succeededEvents / ((lastDone - t0) / 1000));

  // (c2) The same path below saturation: an open-loop arrival rate of half the measured
  // completion rate, so the latency is processing time, not time spent waiting in a backlog.
  const rate = Math.max(10, Math.round(completedPerSecond / 2));
  const openN = rate * 5;
  const openSent = new Map<string, number>();
  succeededAt.clear();
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
    redisCommandsPerGeneration: Math.round((redisCmds / N) * 100) / 100,
    peakRssMb: Math.round(stats.peakRss / 1048576),
    exactCacheHits: { requests: hits.requests, errors: hits.errors, perSecond: hits.perSecond, latencyMs: hits.latencyMs },
    createGenerationWait: {
      syncInProcess: process.env.BENCH_SYNC_IN_PROCESS === "1",
      oneClient: { requests: waitOne.requests, errors: waitOne.errors, latencyMs: waitOne.latencyMs },
      atC: { requests: waitC.requests, errors: waitC.errors, perSecond: waitC.perSecond, latencyMs: waitC.latencyMs },
    },
    oneClientIdle: { generations: 200, acceptLatencyMs: summarise(idleAccept), succeededEventLatencyMs: summarise(idleEvent) },
    belowSaturation: { openLoopPerSecond: rate, generations: openN, acceptLatencyMs: summarise(openAccept), succeededEventLatencyMs: openEvent },
  };
  if (profile) {
    const file = readdirSync(profDir).find((f) => f.endsWith(".cpuprofile"));
    if (file) out.cpuProfile = { file: join(profDir, file), ...summariseProfile(join(profDir, file)) };
  }
  return out;
}

async function main() {
  mkdirSync(results, { recursive: true });
  const bullmq = await bareBullmq();
  const apollo = await bareApollo();
  const apolloPlainHttp = await bareApollo("bare-apollo-http.server.ts");
  const sb = await switchboard();
  const acceptP50 = (sb.acceptLatencyMs as { p50: number }).p50;
  const eventP50 = (sb.succeededEventLatencyMs as { p50: number }).p50;
  const report = {
    bench: "switchboard-vs-engines",
    at: new Date().toISOString(),
    machine: { cpus: require("node:os").cpus().length, node: process.version },
    params: { N, C },
    bareBullmq: bullmq,
    bareApollo: apollo,
    bareApolloPlainNodeHttp: apolloPlainHttp,
    switchboard: sb,
    ratios: {
      completedPerSecondVsBullmq: Math.round(((sb.completedPerSecond as number) / bullmq.jobsPerSecond) * 1000) / 1000,
      acceptP50VsApolloP50: Math.round((acceptP50 / apollo.latencyMs.p50) * 100) / 100,
      exactHitP50VsApolloP50: Math.round(((sb.exactCacheHits as { latencyMs: { p50: number } }).latencyMs.p50 / apollo.latencyMs.p50) * 100) / 100,
    },
    targets: {
      "exact-hit p50 <= 3 x bare Apollo p50": ((sb.exactCacheHits as { latencyMs: { p50: number } }).latencyMs.p50) <= 3 * apollo.latencyMs.p50,
      "completed/s >= 0.12 x bare BullMQ": (sb.completedPerSecond as number) >= 0.12 * bullmq.jobsPerSecond,
      "accept p50 <= 3 x bare Apollo p50": acceptP50 <= 3 * apollo.latencyMs.p50,
      "SUCCEEDED event p50 <= 15 ms": eventP50 <= 15,
    },
  };
  const json = JSON.stringify(report, null, 2);
  writeFileSync(join(results, `bench-${Date.now()}.json`), json);
  console.log(json);
  process.exit(0);
}
void main();
