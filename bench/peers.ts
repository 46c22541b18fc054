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
 * time to first token and to the end at 1 connection, and req/s at 32. Then the ratios and the
 * issue's targets (16): added p50 ≤ 3 ms over direct, ≥ 1.5 × Portkey's req/s, streaming TTFT added ≤ 3 ms.
 * Switchboard calls its upstream streamed even for a plain request (the adapter always streams), so
 * the mock's stream is instant by default (BENCH_PEERS_STREAM_GAP_MS = 0).
 * A /v1 path that answers 404 (not built yet) is skipped with the reason, never failed.
 * Env: BENCH_PEERS_SECONDS per cell (5), BENCH_PEERS_STREAM_GAP_MS (0).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { latencyAt1, streamAt1, throughput, type Path } from "./peers/measure";
import { forkChild, freePort, startPortkey, stopAll, type Proc } from "./peers/processes";

const SECONDS = Number(process.env.BENCH_PEERS_SECONDS ?? 5);
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

/** Measures one path (warm-up first); for Switchboard, also how its generations ended. */
async function measure(path: Path, kind: "plain" | "stream", sb?: Proc) {
  await throughput(path, WARM_SECONDS);
  const counted = async <T>(f: () => Promise<T>) => {
    if (!sb) return f();
    await sb.ask("reset");
    const r = await f();
    return { ...r, generations: (await sb.ask("stats")) as Record<string, number> };
  };
  const at1 = await counted<Awaited<ReturnType<typeof latencyAt1>> | Awaited<ReturnType<typeof streamAt1>>>(() => (kind === "plain" ? latencyAt1(path, SECONDS) : streamAt1(path, SECONDS)));
  const at32 = await counted(() => throughput(path, SECONDS));
  return { at1, at32 };
}

type Cell = Awaited<ReturnType<typeof measure>>;
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
  const sb = await forkChild("switchboard", "switchboard.server.ts", { BENCH_PEERS_UPSTREAM: upstream });
  const sbUrl = `http://127.0.0.1:${sb.info.port}`;
  const bearer = { authorization: `Bearer ${UPSTREAM_KEY}` };
  const portkeyHeaders = { ...bearer, "x-portkey-provider": "openai", "x-portkey-custom-host": `${upstream}/v1` };
  const sbHeaders = { authorization: `Bearer ${sb.info.key}` };

  const plain: [string, Path, Proc?][] = [
    ["direct", chatPath(`${upstream}/v1/chat/completions`, "gpt-4o-mini", bearer, false, text)],
    ["bareProxy", chatPath(`http://127.0.0.1:${proxy.info.port}/v1/chat/completions`, "gpt-4o-mini", bearer, false, text)],
    ["portkey", chatPath(`http://127.0.0.1:${portkey.info.port}/v1/chat/completions`, "gpt-4o-mini", portkeyHeaders, false, text)],
    ["switchboardChatCompletions", chatPath(`${sbUrl}/v1/chat/completions`, "openai/gpt-4o-mini", sbHeaders, false, text), sb],
    ["switchboardGraphqlWait", graphqlWaitPath(`${sbUrl}/graphql`, sb.info.key), sb],
  ];
  const streaming: [string, Path, Proc?][] = [
    ["direct", chatPath(`${upstream}/v1/chat/completions`, "gpt-4o-mini", bearer, true, text)],
    ["bareProxy", chatPath(`http://127.0.0.1:${proxy.info.port}/v1/chat/completions`, "gpt-4o-mini", bearer, true, text)],
    ["portkey", chatPath(`http://127.0.0.1:${portkey.info.port}/v1/chat/completions`, "gpt-4o-mini", portkeyHeaders, true, text)],
    ["switchboardChatCompletions", chatPath(`${sbUrl}/v1/chat/completions`, "openai/gpt-4o-mini", sbHeaders, true, text), sb],
  ];
  const skipped: Record<string, string> = {};
  const results = { plain: {} as Record<string, Cell>, stream: {} as Record<string, Cell> };
  for (const [kind, paths] of [["plain", plain], ["stream", streaming]] as const) {
    for (const [name, path, owner] of paths) {
      const why = name === "switchboardChatCompletions" ? await unavailable(path) : undefined;
      if (why) skipped[`${kind}.${name}`] = why;
      else results[kind][name] = await measure(path, kind, owner);
    }
  }

  const { plain: P, stream: S } = results;
  const added = minus(p50(P.switchboardChatCompletions), p50(P.direct));
  const overPortkey = over(rps(P.switchboardChatCompletions), rps(P.portkey));
  const ttftAdded = minus(ttft(S.switchboardChatCompletions), ttft(S.direct));
  const out = {
    bench: "peers",
    at: new Date().toISOString(),
    machine: { cpus: os.cpus().length, node: process.version, note: "shared 2-core machine: figures are noisy" },
    secondsPerCell: SECONDS,
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
