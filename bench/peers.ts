/**
 * `npm run bench:peers`: Switchboard's sync path beside its peers on one upstream, in one run, as
 * JSON (stdout and bench/results/peers-<time>.json). Everything binds 127.0.0.1 and stops by itself.
 *   direct       the mock upstream (OpenAI chat completions, JSON and SSE; bench/peers/mock-upstream.ts)
 *   bare proxy   a bare Node http proxy to it (the floor of any Node gateway)
 *   portkey      @portkey-ai/gateway (its bin, headless), provider openai with the mock as custom host
 *   switchboard  serve + in-process workers on its own database and Redis prefix, the openai
 *                provider pointed at the mock: POST /v1/chat/completions (plain and stream: true) and
 *                createGeneration(wait) over GraphQL on openai/gpt-4o-mini
 * Per path: p50/p90/p99 at 1 connection, req/s at 32 connections (autocannon); per streaming path:
 * time to first token and to the end at 1 connection, and req/s at 32. Each cell's time is split
 * into up to 5 rounds and the paths take turns round by round (each round starting one path
 * later), so the machine's noisy moments fall on every path alike. Then the ratios and the
 * issue's targets (16): added p50 ≤ 3 ms over direct, ≥ 1.5 × Portkey's req/s, streaming TTFT added ≤ 3 ms.
 * Switchboard calls its upstream streamed even for a plain request (the adapter always streams), so
 * the mock's stream is instant by default (BENCH_PEERS_STREAM_GAP_MS = 0).
 * A /v1 path that answers 404 (not built yet) is skipped with the reason, never failed.
 * Our children (mock, bare proxy, Switchboard) are compiled with tsc first and run by plain node, as
 * production runs the product (BENCH_PEERS_TSNODE=1: from source under ts-node).
 * Env: BENCH_PEERS_SECONDS per cell (5), BENCH_PEERS_STREAM_GAP_MS (0), BENCH_PEERS_PROFILE=1 (a CPU
 * profile of the Switchboard process, summarised by area and hottest functions in the JSON).
 */
import { execSync } from "node:child_process";
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { at1Round, at32Round, summariseAt1, summariseAt32, type At1Round, type At32Round, type Path } from "./peers/measure";
import { summariseProfile } from "./profile-summary";
import { RUNTIME, forkChild, freePort, startPortkey, stopAll, type Proc } from "./peers/processes";

const SECONDS = Number(process.env.BENCH_PEERS_SECONDS ?? 5);
const PROFILE = process.env.BENCH_PEERS_PROFILE === "1";
const ROUNDS = Math.max(1, Math.min(5, Math.floor(SECONDS)));
const ROUND_SECONDS = SECONDS / ROUNDS;
const WARM_SECONDS = Math.max(1, Math.min(2, Math.round(SECONDS / 3)));
const UPSTREAM_KEY = "sk-bench-peers-0000000000000001";
const round = (x: number, digits = 3) => Math.round(x * 10 ** digits) / 10 ** digits;

const CREATE = `mutation($input: CreateGenerationInput!) { createGeneration(input: $input) { id status output { text } } }`;
const prompt = (i: number) => `Say something short, please (${i}).`;

function chatPath(url: string, model: string, headers: Record<string, string>, stream: boolean, text: string): Path {
  return {
    url,
    headers,
    body: (i) => JSON.stringify({ model, messages: [{ role: "user", content: prompt(i) }], ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}) }),
    // A stream is whole only with its [DONE]; a plain answer carries the mock's text.
    ok: (body) => (stream ? body.includes("data: [DONE]") : body.includes(text)),
  };
}

function graphqlWaitPath(url: string, key: string): Path {
  return {
    url,
    headers: { authorization: `Bearer ${key}` },
    body: (i) => JSON.stringify({ query: CREATE, variables: { input: { modality: "TEXT", model: "openai/gpt-4o-mini", prompt: prompt(i), wait: 30 } } }),
    ok: (body) => body.includes('"status":"SUCCEEDED"'),
  };
}

/** Why a Switchboard /v1 path cannot be measured in this tree, or undefined when it answers. */
async function unavailable(path: Path): Promise<string | undefined> {
  const res = await fetch(path.url, { method: "POST", headers: { "content-type": "application/json", ...path.headers }, body: path.body(0) }).catch((e: Error) => e);
  if (res instanceof Error) return `${path.url}: ${res.message}`;
  const body = await res.text();
  if (res.status === 404) return `POST ${new URL(path.url).pathname} answers 404 in this tree (not built yet)`;
  if (res.status !== 200 || !path.ok(body)) return `POST ${new URL(path.url).pathname} answered ${res.status}: ${body.slice(0, 300)}`;
  return undefined;
}

/** The commit measured (`-dirty`: with uncommitted edits in the work tree). */
function gitTree(): string {
  try {
    return execSync("git describe --always --dirty", { cwd: join(__dirname, ".."), encoding: "utf8" }).trim();
  } catch {
    return "unknown";
  }
}

type Named = [name: string, path: Path, sb?: Proc];

/**
 * Every path of one kind: a warm-up each, then ROUNDS rounds of each measurement, the paths
 * taking turns round by round. A Switchboard round starts and ends idle (its `stats` waits for
 * the generations in flight) and counts how its generations ended and the CPU its process spent.
 */
async function measureAll(paths: Named[], stream: boolean) {
  for (const [, path] of paths) await at32Round(path, WARM_SECONDS);
  type Counts = { generations: Record<string, number>; cpuMs: number };
  const counts = new Map<string, { at1: Counts; at32: Counts }>(paths.map(([n]) => [n, { at1: { generations: {}, cpuMs: 0 }, at32: { generations: {}, cpuMs: 0 } }]));
  const counted = async <T>(name: string, which: "at1" | "at32", sb: Proc | undefined, f: () => Promise<T>) => {
    if (!sb) return f();
    await sb.ask("reset");
    const r = await f();
    const into = counts.get(name)![which];
    const got = (await sb.ask("stats")) as Counts;
    for (const [status, n] of Object.entries(got.generations)) into.generations[status] = (into.generations[status] ?? 0) + n;
    into.cpuMs += got.cpuMs;
    return r;
  };
  // The Switchboard process's own CPU per generation (Postgres and Redis are other processes).
  const switchboardSide = (c: Counts) => {
    const n = Object.values(c.generations).reduce((a, b) => a + b, 0);
    return { generations: c.generations, cpuMsPerGeneration: n ? round(c.cpuMs / n, 2) : null };
  };
  const at1 = new Map<string, At1Round[]>(paths.map(([n]) => [n, []]));
  const at32 = new Map<string, At32Round[]>(paths.map(([n]) => [n, []]));
  // Each round starts one path later, so no path always follows the same neighbour.
  const turn = (r: number) => [...paths.slice(r % paths.length), ...paths.slice(0, r % paths.length)];
  for (let r = 0; r < ROUNDS; r++) for (const [name, path, sb] of turn(r)) at1.get(name)!.push(await counted(name, "at1", sb, () => at1Round(path, ROUND_SECONDS, stream)));
  for (let r = 0; r < ROUNDS; r++) for (const [name, path, sb] of turn(r)) at32.get(name)!.push(await counted(name, "at32", sb, () => at32Round(path, ROUND_SECONDS)));
  return Object.fromEntries(
    paths.map(([name, , sb]) => {
      const c = counts.get(name)!;
      return [name, { at1: { ...summariseAt1(at1.get(name)!, stream), ...(sb ? switchboardSide(c.at1) : {}) }, at32: { ...summariseAt32(at32.get(name)!), ...(sb ? switchboardSide(c.at32) : {}) } }];
    }),
  );
}

type Cell = Awaited<ReturnType<typeof measureAll>>[string];
const p50 = (c: Cell | undefined) => (c && "latencyMs" in c.at1 ? c.at1.latencyMs.p50 : undefined);
const ttft = (c: Cell | undefined) => (c && "timeToFirstTokenMs" in c.at1 ? c.at1.timeToFirstTokenMs.p50 : undefined);
const rps = (c: Cell | undefined) => c?.at32.reqPerSec;
const minus = (a?: number, b?: number) => (a === undefined || b === undefined ? null : round(a - b));
const over = (a?: number, b?: number) => (a === undefined || !b ? null : round(a / b, 2));

async function main() {
  const mock = await forkChild("mock upstream", "mock-upstream.ts");
  const upstream = `http://127.0.0.1:${mock.info.port}`;
  const text = mock.info.text as string;
  const proxy = await forkChild("bare proxy", "bare-proxy.ts", { BENCH_PEERS_UPSTREAM: upstream });
  const portkey = await startPortkey(await freePort());
  const profDir = join(__dirname, "results", `peers-profile-${Date.now()}`);
  const sb = await forkChild("switchboard", "switchboard.server.ts", { BENCH_PEERS_UPSTREAM: upstream }, PROFILE ? ["--cpu-prof", `--cpu-prof-dir=${profDir}`] : []);
  const sbUrl = `http://127.0.0.1:${sb.info.port}`;
  const bearer = { authorization: `Bearer ${UPSTREAM_KEY}` };
  const portkeyHeaders = { ...bearer, "x-portkey-provider": "openai", "x-portkey-custom-host": `${upstream}/v1` };
  const sbHeaders = { authorization: `Bearer ${sb.info.key}` };

  const plain: Named[] = [
    ["direct", chatPath(`${upstream}/v1/chat/completions`, "gpt-4o-mini", bearer, false, text)],
    ["bareProxy", chatPath(`http://127.0.0.1:${proxy.info.port}/v1/chat/completions`, "gpt-4o-mini", bearer, false, text)],
    ["portkey", chatPath(`http://127.0.0.1:${portkey.info.port}/v1/chat/completions`, "gpt-4o-mini", portkeyHeaders, false, text)],
    ["switchboardChatCompletions", chatPath(`${sbUrl}/v1/chat/completions`, "openai/gpt-4o-mini", sbHeaders, false, text), sb],
    ["switchboardGraphqlWait", graphqlWaitPath(`${sbUrl}/graphql`, sb.info.key), sb],
  ];
  const streaming: Named[] = [
    ["direct", chatPath(`${upstream}/v1/chat/completions`, "gpt-4o-mini", bearer, true, text)],
    ["bareProxy", chatPath(`http://127.0.0.1:${proxy.info.port}/v1/chat/completions`, "gpt-4o-mini", bearer, true, text)],
    ["portkey", chatPath(`http://127.0.0.1:${portkey.info.port}/v1/chat/completions`, "gpt-4o-mini", portkeyHeaders, true, text)],
    ["switchboardChatCompletions", chatPath(`${sbUrl}/v1/chat/completions`, "openai/gpt-4o-mini", sbHeaders, true, text), sb],
  ];
  const skipped: Record<string, string> = {};
  const available = async (kind: string, paths: Named[]) => {
    const out: Named[] = [];
    for (const named of paths) {
      const why = named[0].startsWith("switchboardChat") ? await unavailable(named[1]) : undefined;
      if (why) skipped[`${kind}.${named[0]}`] = why;
      else out.push(named);
    }
    return out;
  };
  const results = {
    plain: await measureAll(await available("plain", plain), false),
    stream: await measureAll(await available("stream", streaming), true),
  };

  const { plain: P, stream: S } = results;
  const added = minus(p50(P.switchboardChatCompletions), p50(P.direct));
  const overPortkey = over(rps(P.switchboardChatCompletions), rps(P.portkey));
  const ttftAdded = minus(ttft(S.switchboardChatCompletions), ttft(S.direct));
  const out = {
    bench: "peers",
    at: new Date().toISOString(),
    tree: gitTree(),
    machine: { cpus: os.cpus().length, node: process.version, note: "shared 2-core machine: figures are noisy" },
    // How the mock, the bare proxy and Switchboard ran: compiled (plain node, as `npm start`) or ts-node.
    childRuntime: RUNTIME,
    secondsPerCell: SECONDS,
    roundsPerCell: ROUNDS,
    warmupSecondsPerPath: WARM_SECONDS,
    streamGapMs: Number(process.env.BENCH_PEERS_STREAM_GAP_MS ?? 0),
    portkey: { version: portkey.info.version, honoNodeServer: portkey.info.honoNodeServer },
    plain: P,
    stream: S,
    skipped,
    ratios: {
      switchboardAddedP50Ms: { chatCompletions: added, graphqlWait: minus(p50(P.switchboardGraphqlWait), p50(P.direct)) },
      portkeyAddedP50Ms: minus(p50(P.portkey), p50(P.direct)),
      bareProxyAddedP50Ms: minus(p50(P.bareProxy), p50(P.direct)),
      switchboardOverPortkeyReqPerSec: { chatCompletions: overPortkey, graphqlWait: over(rps(P.switchboardGraphqlWait), rps(P.portkey)) },
      streamingTtftAddedMs: { switchboard: ttftAdded, portkey: minus(ttft(S.portkey), ttft(S.direct)), bareProxy: minus(ttft(S.bareProxy), ttft(S.direct)) },
    },
    // The targets, on /v1/chat/completions; null when that path was skipped.
    targets: {
      addedP50AtMost3Ms: added === null ? null : added <= 3,
      atLeast1_5xPortkeyReqPerSec: overPortkey === null ? null : overPortkey >= 1.5,
      streamingTtftAddedAtMost3Ms: ttftAdded === null ? null : ttftAdded <= 3,
    },
  };
  if (PROFILE) {
    await sb.stop(); // the profile is written as the process exits
    const file = readdirSync(profDir).find((f) => f.endsWith(".cpuprofile"));
    if (file) Object.assign(out, { switchboardCpuProfile: { file: join(profDir, file), ...summariseProfile(join(profDir, file), 20) } });
  }
  const json = JSON.stringify(out, null, 2);
  console.log(json);
  const dir = join(__dirname, "results");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `peers-${Date.now()}.json`), json);
}

void main()
  .catch((e) => {
    console.error(e);
    process.exitCode = 1;
  })
  .finally(() => stopAll());
