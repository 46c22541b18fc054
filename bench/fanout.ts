/**
 * `npm run bench:fanout`: 20,000 concurrent subscriptions on one Switchboard API node (no workers)
 * against a bare graphql-ws server with the same subscriptions, documents and payloads, in one run.
 *
 * Topology (env): BENCH_FANOUT_USERS users (1000), each with BENCH_FANOUT_SUBS_PER_USER
 * subscriptions (20): half `myGenerations`, half `generationUpdated` of that user's one generation,
 * BENCH_FANOUT_PER_SOCKET per WebSocket (10, so 2,000 sockets), spread over BENCH_FANOUT_CLIENTS
 * client processes (4). Everything on 127.0.0.1.
 * Events go out through the product's own publish path, EventBus.sendEvent (the Lua script the
 * workers run: seq, stream log, PUBLISH to the generation's and the owner's channel), from this
 * process, as PROGRESS events: one event reaches all of its owner's subscriptions (fan-out =
 * SUBS_PER_USER). It publishes at BENCH_FANOUT_RATE / fan-out events/s so that BENCH_FANOUT_RATE
 * (5000) events/s are delivered, measures BENCH_FANOUT_SECONDS (10) s, then profiles 3 s more
 * (node:inspector in the server child, only that window).
 * BENCH_FANOUT_DIST=1 runs the Switchboard node from dist/ (build it first: npx tsc -p tsconfig.build.json).
 * Prints JSON: server RSS after subscribing and at peak, server CPU µs per delivered event,
 * publish → client latency, each for Switchboard and bare graphql-ws, with ratios and targets.
 */
import { fork, type ChildProcess } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import http from "node:http";
import { join } from "node:path";
import { Redis } from "ioredis";
import { RedisPubSub } from "graphql-redis-subscriptions";
import { EventBus } from "../src/realtime/event-bus";
import type { GenerationEntity } from "../src/db/entities/generation.entity";
import { post, summarise } from "./load";
import { summariseProfile } from "./profile-summary";
import { dropRedisPrefix, uniquePrefix } from "../test/helpers/infra";

const USERS = Number(process.env.BENCH_FANOUT_USERS ?? 1000);
const SUBS_PER_USER = Number(process.env.BENCH_FANOUT_SUBS_PER_USER ?? 20);
const PER_SOCKET = Number(process.env.BENCH_FANOUT_PER_SOCKET ?? 10);
const CLIENTS = Number(process.env.BENCH_FANOUT_CLIENTS ?? 4);
const RATE = Number(process.env.BENCH_FANOUT_RATE ?? 5000);
const SECONDS = Number(process.env.BENCH_FANOUT_SECONDS ?? 10);
const HEAP_SNAPSHOTS = process.env.BENCH_FANOUT_HEAP_SNAPSHOTS === "1";
/** Node flags for the Switchboard server child only (e.g. V8 heap sizing), space-separated. */
const SERVER_NODE_FLAGS = (process.env.BENCH_FANOUT_SERVER_NODE_FLAGS ?? "").split(" ").filter(Boolean);
/** BENCH_FANOUT_SKIP_BARE=1: the Switchboard node only (A/B runs of its own figures; no ratios). */
const SKIP_BARE = process.env.BENCH_FANOUT_SKIP_BARE === "1";
const REDIS = "redis://127.0.0.1:6379";
const results = join(__dirname, "results");

const FIELDS = "seq type progress message at generation { id status modality model prompt priority progress cached createdAt startedAt }";
const MINE = `subscription { myGenerations { ${FIELDS} } }`;
const ONE = `subscription($id: ID!) { generationUpdated(id: $id) { ${FIELDS} } }`;
// ~300 bytes of prompt, so a delivered frame is about 700 bytes.
const PROMPT = "Summarise the following support ticket in two sentences and suggest a priority. ".repeat(4);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function child(script: string, env: Record<string, string> = {}, nodeFlags: string[] = []): Promise<{ proc: ChildProcess; info: any }> {
  const proc = fork(join(__dirname, script), [], {
    execArgv: [...nodeFlags, "-r", "ts-node/register/transpile-only"],
    env: { ...process.env, ...env },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  return new Promise((resolve, reject) => {
    proc.once("message", (info) => resolve({ proc, info }));
    proc.once("exit", (code) => reject(new Error(`${script} exited with ${code}`)));
  });
}
const ask = (proc: ChildProcess, msg: object) =>
  new Promise<any>((resolve) => {
    proc.once("message", resolve);
    proc.send(msg);
  });

interface Gen { id: string; userId: string; entity: GenerationEntity }

/** One generation per user, created through the API (no worker runs, so each stays QUEUED). */
async function createGenerations(port: number, users: { id: string; key: string }[]): Promise<Gen[]> {
  const url = `http://127.0.0.1:${port}/graphql`;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  const q = "mutation($p: String!) { createGeneration(input: {modality: TEXT, model: \"simulated/text\", prompt: $p}) { id status modality model prompt priority progress createdAt } }";
  const out: Gen[] = [];
  for (let i = 0; i < users.length; i += 16) {
    await Promise.all(users.slice(i, i + 16).map(async (u) => {
      const b = await post(url, agent, { authorization: `Bearer ${u.key}` }, JSON.stringify({ query: q, variables: { p: PROMPT } }));
      const g = b?.data?.createGeneration;
      if (!g) throw new Error(`createGeneration failed: ${JSON.stringify(b?.errors ?? b)}`);
      // What the worker holds when it publishes: a row. Only what EventBus.sendEvent reads is filled in.
      const entity = {
        id: g.id, userId: u.id, status: "RUNNING", modality: g.modality, model: g.model, provider: "simulated", prompt: g.prompt, system: null,
        priority: g.priority, seed: null, progress: 0, cached: false, cacheHit: null, params: {}, estimatedCostMicros: 0, costMicros: null,
        errorCode: null, errorMessage: null, createdAt: new Date(g.createdAt), startedAt: new Date(), completedAt: null, source: "GRAPHQL",
        requestId: null, output: null, candidates: null, textOptions: null, seqReserved: 0,
      } as unknown as GenerationEntity;
      out.push({ id: g.id, userId: u.id, entity });
    }));
  }
  agent.destroy();
  return out;
}

type Plan = { connectionParams: Record<string, string>; subs: { query: string; variables?: Record<string, unknown> }[] }[];

function plans(users: { id: string; key: string }[], gens: Gen[], auth: boolean): Plan[] {
  const per: Plan[] = Array.from({ length: CLIENTS }, () => []);
  let s = 0;
  users.forEach((u, i) => {
    const gen = gens.find((g) => g.userId === u.id)!;
    const subs = Array.from({ length: SUBS_PER_USER }, (_, j) => (j % 2 === 0 ? { query: MINE } : { query: ONE, variables: { id: gen.id } }));
    for (let k = 0; k < subs.length; k += PER_SOCKET) {
      const connectionParams: Record<string, string> = auth ? { authorization: `Bearer ${u.key}` } : { userId: u.id };
      per[s++ % CLIENTS].push({ connectionParams, subs: subs.slice(k, k + PER_SOCKET) });
    }
    void i;
  });
  return per;
}

class Publisher {
  private n = 0;
  failed = 0;
  constructor(private readonly bus: EventBus, private readonly gens: Gen[]) {}
  one(): void {
    const g = this.gens[this.n++ % this.gens.length];
    const progress = (this.n % 100) / 100;
    this.bus.sendEvent(g.entity, { type: "PROGRESS", progress, message: `t:${process.hrtime.bigint()}` }).catch(() => this.failed++);
  }
  /** Open loop: events due by the clock go out whatever the server does. */
  async run(eventsPerSecond: number, ms: number, stop?: () => boolean): Promise<number> {
    const t0 = performance.now();
    let sent = 0;
    while (performance.now() - t0 < ms && !stop?.()) {
      const due = Math.floor(((performance.now() - t0) / 1000) * eventsPerSecond);
      while (sent < due) {
        this.one();
        sent++;
      }
      await sleep(4);
    }
    return sent;
  }
}

async function measure(name: "switchboard" | "bareGraphqlWs", server: ChildProcess, port: number, plan: Plan[], pub: Publisher, profDir: string) {
  const total = plan.flat().reduce((a, s) => a + s.subs.length, 0);
  const sockets = plan.flat().length;
  const clients = await Promise.all(plan.map(() => child("fanout.client.ts")));
  // BENCH_FANOUT_HEAP_SNAPSHOTS=1: what subscribing retains, as two heap snapshots to diff (bench/heap-diff.ts).
  const snapshot = (when: string) => (HEAP_SNAPSHOTS ? ask(server, { cmd: "heap-snapshot", file: join(profDir, `${name}-${when}.heapsnapshot`) }) : undefined);
  await snapshot("before");
  const u0 = await ask(server, { cmd: "usage" });
  const t0 = performance.now();
  await Promise.all(clients.map((c, i) => ask(c.proc, { cmd: "open", url: `ws://127.0.0.1:${port}/graphql`, plan: plan[i] })));
  const opened = performance.now();
  const uOpen = await ask(server, { cmd: "usage" });
  const stats = (latencies = false) => Promise.all(clients.map((c) => ask(c.proc, { cmd: "stats", latencies })));
  const received = async () => (await stats()).reduce((a, s) => a + s.received, 0);
  /** Waits until deliveries stop growing: whatever was published has arrived (or the server gave up on it). */
  const drained = async () => {
    for (let last = -1, now = await received(); now !== last; last = now, now = await received()) await sleep(1000);
  };
  // Subscriptions are live once each has received an event (graphql-ws acknowledges none): one event
  // per user (it reaches all of that user's subscriptions) at the measured rate, then the backlog drains.
  const eventsPerSecond = RATE / SUBS_PER_USER;
  let live = 0;
  const liveBy = Date.now() + 180_000;
  while (live < total && Date.now() < liveBy) {
    await pub.run(eventsPerSecond, (USERS / eventsPerSecond) * 1000 + 100);
    await drained();
    live = (await stats()).reduce((a, s) => a + s.live, 0);
  }
  const subscribeSeconds = (opened - t0) / 1000;
  const u1 = await ask(server, { cmd: "usage" });
  await snapshot("after");
  await ask(server, { cmd: "reset-peak" });
  await pub.run(eventsPerSecond, 2000); // at the rate, before measuring
  await drained();
  await Promise.all(clients.map((c) => ask(c.proc, { cmd: "reset" })));
  const before = (await stats()).reduce((a, s) => a + s.received, 0);
  const c0 = await ask(server, { cmd: "usage" });
  const w0 = performance.now();
  const published = await pub.run(eventsPerSecond, SECONDS * 1000);
  const windowS = (performance.now() - w0) / 1000;
  const inWindow = (await received()) - before;
  // CPU up to the last delivery of the window's events (a backlog's tail included), per event delivered.
  await drained();
  const c1 = await ask(server, { cmd: "usage" });
  const st = await stats(true);
  const delivered = st.reduce((a, s) => a + s.received, 0) - before;
  const latencies = st.flatMap((s) => s.latencies as number[]);
  const cpuUs = c1.cpu.user + c1.cpu.system - (c0.cpu.user + c0.cpu.system);
  // A profile of 3 s more at the same rate (profiling costs CPU: kept out of the measured window).
  const file = join(profDir, `${name}.cpuprofile`);
  await ask(server, { cmd: "profile-start" });
  await pub.run(eventsPerSecond, 3000);
  await ask(server, { cmd: "profile-stop", file });
  const end = await stats();
  await Promise.all(clients.map((c) => ask(c.proc, { cmd: "close" })));
  const profile = summariseProfile(file, 10);
  return {
    subscriptions: total,
    sockets,
    live,
    subscribeSeconds: Math.round(subscribeSeconds * 10) / 10,
    subscribeCpuMs: Math.round((uOpen.cpu.user + uOpen.cpu.system - u0.cpu.user - u0.cpu.system) / 1000),
    rssBeforeSubscribeMb: Math.round(u0.rss / 1048576),
    rssAfterSubscribeMb: Math.round(u1.rss / 1048576),
    // Where the RSS is: the JS heap in use and reserved, and off-heap buffers (sockets' included).
    heapAfterSubscribeMb: { used: Math.round(u1.heapUsed / 1048576), total: Math.round(u1.heapTotal / 1048576), externalAndBuffers: Math.round(u1.external / 1048576), spaces: u1.spaces },
    peakRssMb: Math.round(c1.peakRss / 1048576),
    publishedPerSecond: Math.round(published / windowS),
    deliveredPerSecond: Math.round(inWindow / windowS),
    delivered,
    cpuUsPerDeliveredEvent: Math.round((cpuUs / Math.max(1, delivered)) * 100) / 100,
    serverCpuPct: Math.round((cpuUs / 1e6 / windowS) * 1000) / 10,
    latencyMs: summarise(latencies),
    subscriptionErrors: end.reduce((a, s) => a + s.errors, 0),
    closeCodes: end.reduce((a, s) => { for (const [k, v] of Object.entries(s.closeCodes as Record<string, number>)) a[k] = (a[k] ?? 0) + v; return a; }, {} as Record<string, number>),
    profile: { file, ...profile },
  };
}

async function main() {
  mkdirSync(results, { recursive: true });
  const profDir = join(results, `fanout-profile-${Date.now()}`);
  mkdirSync(profDir, { recursive: true });
  const prefix = uniquePrefix();
  const publisher = new Redis(REDIS, { enableAutoPipelining: true });
  const unused = new Redis(REDIS, { lazyConnect: true });
  const bus = new EventBus(new RedisPubSub({ publisher, subscriber: unused }), publisher, prefix);

  const sb = await child("fanout.server.ts", { BENCH_FANOUT_PREFIX: prefix, BENCH_FANOUT_USERS: String(USERS) }, SERVER_NODE_FLAGS);
  const users = sb.info.users as { id: string; key: string }[];
  const runtime = sb.info.runtime as string;
  const gens = await createGenerations(sb.info.port, users);
  const pub = new Publisher(bus, gens);
  const switchboard = await measure("switchboard", sb.proc, sb.info.port, plans(users, gens, true), pub, profDir);
  sb.proc.send({ cmd: "stop" });
  await new Promise((r) => sb.proc.once("exit", r));
  if (SKIP_BARE) {
    const json = JSON.stringify({ bench: "subscription-fanout", at: new Date().toISOString(), params: { switchboardRuntime: runtime, users: USERS, subscriptionsPerUser: SUBS_PER_USER, perSocket: PER_SOCKET, serverNodeFlags: SERVER_NODE_FLAGS, skipBare: true }, switchboard }, null, 2);
    writeFileSync(join(results, `fanout-${Date.now()}.json`), json);
    console.log(json);
    publisher.disconnect();
    unused.disconnect();
    await dropRedisPrefix(prefix);
    process.exit(0);
  }

  const bare = await child("bare-graphql-ws.server.ts", { BENCH_FANOUT_PREFIX: prefix });
  const bareGraphqlWs = await measure("bareGraphqlWs", bare.proc, bare.info.port, plans(users, gens, false), pub, profDir);
  bare.proc.send({ cmd: "stop" });
  await new Promise((r) => bare.proc.once("exit", r));
  publisher.disconnect();
  unused.disconnect();
  await dropRedisPrefix(prefix);

  const r2 = (x: number) => Math.round(x * 100) / 100;
  const report = {
    bench: "subscription-fanout",
    at: new Date().toISOString(),
    machine: { cpus: require("node:os").cpus().length, node: process.version },
    params: { switchboardRuntime: runtime, serverNodeFlags: SERVER_NODE_FLAGS, users: USERS, subscriptionsPerUser: SUBS_PER_USER, perSocket: PER_SOCKET, clientProcesses: CLIENTS, deliveredPerSecondTarget: RATE, fanOutPerEvent: SUBS_PER_USER, seconds: SECONDS, publishFailures: pub.failed },
    switchboard,
    bareGraphqlWs,
    ratios: {
      cpuPerDeliveredEventVsBare: r2(switchboard.cpuUsPerDeliveredEvent / bareGraphqlWs.cpuUsPerDeliveredEvent),
      rssAfterSubscribeVsBare: r2(switchboard.rssAfterSubscribeMb / bareGraphqlWs.rssAfterSubscribeMb),
      p99VsBare: r2(switchboard.latencyMs.p99 / bareGraphqlWs.latencyMs.p99),
    },
    targets: {
      "20,000 subscriptions live": switchboard.live >= 20_000,
      "RSS <= 600 MB": switchboard.peakRssMb <= 600,
      "CPU per delivered event <= 1.5 x bare graphql-ws": switchboard.cpuUsPerDeliveredEvent <= 1.5 * bareGraphqlWs.cpuUsPerDeliveredEvent,
      "publish -> client p99 <= 50 ms at 5,000 delivered/s": switchboard.latencyMs.p99 <= 50 && switchboard.deliveredPerSecond >= 0.95 * RATE,
    },
  };
  const json = JSON.stringify(report, null, 2);
  writeFileSync(join(results, `fanout-${Date.now()}.json`), json);
  console.log(json);
  process.exit(0);
}
void main();
