/**
 * A /v1 client that leaves cancels its generation (issue 16): the official `openai` and
 * `@anthropic-ai/sdk` clients abort their request (AbortController) while a slow fake upstream
 * is still answering; the generation must end CANCELLED through the normal cancel path, with
 * its reservation released and nothing charged. A background response is the exception: it
 * outlives its request (and its dropped stream) by design.
 */
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAnthropicFake, type AnthropicFake } from "../fakes/anthropic.fake";
import { startOpenAIFake, type OpenAIFake } from "../fakes/openai.fake";
import { quota } from "../helpers/quota";
import { startTestApp, type TestApp } from "../helpers/test-app";

const LIST = `query { generations(first: 10) { edges { node { id status source } } } }`;

interface Node { id: string; status: string; source: string }

async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs: number, what: string): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`${what}: not reached after ${timeoutMs} ms (last: ${JSON.stringify(v)})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("/v1: a client that closes the connection cancels its generation", () => {
  let t: TestApp;
  let openaiFake: OpenAIFake;
  let anthropicFake: AnthropicFake;

  beforeAll(async () => {
    openaiFake = await startOpenAIFake();
    anthropicFake = await startAnthropicFake();
    // Every upstream call holds for 10 s (until its connection closes): the client always leaves first.
    openaiFake.scenario = "slow";
    anthropicFake.scenario = "slow";
    t = await startTestApp({
      providers: {
        vendors: {
          openai: { baseUrl: `${openaiFake.url}/v1`, keys: [{ label: "env-1", key: "sk-test-openai-1234" }] },
          anthropic: { baseUrl: anthropicFake.url, keys: [{ label: "env-1", key: "sk-ant-test-5678" }] },
        },
        healthIntervalMs: 0,
      },
    } as never);
  }, 120_000);
  afterAll(async () => {
    await t?.close();
    await openaiFake?.close();
    await anthropicFake?.close();
  });

  /** A fresh user (nothing else in its list or budget) and its key. */
  const user = () => t.createUser(undefined, { tier: "enterprise" });
  const generations = async (key: string): Promise<Node[]> => {
    const res = await t.gql<{ generations: { edges: { node: Node }[] } }>(key, LIST);
    expect(res.errors).toBeUndefined();
    return res.data!.generations.edges.map((e) => e.node);
  };
  /** Waits until the user's only generation is RUNNING (its upstream call under way). */
  const running = async (key: string): Promise<Node> =>
    (await until(() => generations(key), (g) => g.length === 1 && g[0].status === "RUNNING", 20_000, "a RUNNING generation"))[0];
  /** The user's generation ends CANCELLED, its reservation released and nothing spent. */
  const expectCancelled = async (key: string, id: string) => {
    const [g] = await until(() => generations(key), (gs) => gs.length === 1 && gs[0].status !== "RUNNING" && gs[0].status !== "QUEUED", 8_000, "a terminal generation");
    expect(g).toMatchObject({ id, status: "CANCELLED" });
    const q = await until(() => quota(t, key), (v) => v.reservedUsd === 0, 5_000, "the reservation released");
    expect(q.spentUsd).toBe(0);
  };
  const leaves = (p: Promise<unknown>) => p.then(() => "answered", (e: unknown) => e);

  it("chat completions, non-streaming: aborting the request cancels the generation", async () => {
    const { key } = await user();
    const client = new OpenAI({ apiKey: key, baseURL: `http://127.0.0.1:${t.port}/v1`, maxRetries: 0 });
    const ac = new AbortController();
    const call = leaves(client.chat.completions.create({ model: "openai/gpt-4o-mini", messages: [{ role: "user", content: "take your time" }] }, { signal: ac.signal }));
    const g = await running(key);
    expect((await quota(t, key)).reservedUsd).toBeGreaterThan(0);
    ac.abort();
    expect(await call).toBeInstanceOf(OpenAI.APIUserAbortError);
    await expectCancelled(key, g.id);
  });

  it("chat completions, streaming: aborting after the first chunk cancels the generation", async () => {
    const { key } = await user();
    const client = new OpenAI({ apiKey: key, baseURL: `http://127.0.0.1:${t.port}/v1`, maxRetries: 0 });
    const ac = new AbortController();
    const stream = await client.chat.completions.create({ model: "openai/gpt-4o-mini", messages: [{ role: "user", content: "stream slowly" }], stream: true }, { signal: ac.signal });
    const it = stream[Symbol.asyncIterator]();
    await it.next(); // the role chunk
    const g = await running(key);
    ac.abort();
    await leaves(it.next());
    await expectCancelled(key, g.id);
  });

  it("messages (Anthropic), non-streaming and streaming: aborting cancels the generation", async () => {
    const a = await user();
    const client = new Anthropic({ apiKey: a.key, baseURL: `http://127.0.0.1:${t.port}`, maxRetries: 0 });
    const ac = new AbortController();
    const call = leaves(client.messages.create({ model: "anthropic/claude-haiku-4-5", max_tokens: 64, messages: [{ role: "user", content: "slowly" }] }, { signal: ac.signal }));
    const g = await running(a.key);
    ac.abort();
    expect(await call).toBeInstanceOf(Anthropic.APIUserAbortError);
    await expectCancelled(a.key, g.id);

    const b = await user();
    const streamer = new Anthropic({ apiKey: b.key, baseURL: `http://127.0.0.1:${t.port}`, maxRetries: 0 });
    const s = streamer.messages.stream({ model: "anthropic/claude-haiku-4-5", max_tokens: 64, messages: [{ role: "user", content: "stream slowly" }] });
    const done = leaves(s.finalMessage());
    const sg = await running(b.key);
    s.abort();
    await done;
    await expectCancelled(b.key, sg.id);
  });

  it("responses: a streamed one is cancelled when its client leaves; a background one goes on", async () => {
    const a = await user();
    const client = new OpenAI({ apiKey: a.key, baseURL: `http://127.0.0.1:${t.port}/v1`, maxRetries: 0 });
    const ac = new AbortController();
    const stream = await client.responses.create({ model: "openai/gpt-4o-mini", input: "stream slowly", stream: true }, { signal: ac.signal });
    const it = stream[Symbol.asyncIterator]();
    await it.next(); // response.created
    const g = await running(a.key);
    ac.abort();
    await leaves(it.next());
    await expectCancelled(a.key, g.id);

    const b = await user();
    const bg = new OpenAI({ apiKey: b.key, baseURL: `http://127.0.0.1:${t.port}/v1`, maxRetries: 0 });
    const bac = new AbortController();
    const bgStream = await bg.responses.create({ model: "openai/gpt-4o-mini", input: "in the background", stream: true, background: true }, { signal: bac.signal });
    await bgStream[Symbol.asyncIterator]().next();
    const bgGen = await running(b.key);
    bac.abort();
    // Well past the moment a cancel would have landed: still running, its reservation held.
    await new Promise((r) => setTimeout(r, 1500));
    expect((await generations(b.key))[0]).toMatchObject({ id: bgGen.id, status: "RUNNING" });
    expect((await quota(t, b.key)).reservedUsd).toBeGreaterThan(0);
    await bg.responses.cancel(`resp_${bgGen.id}`);
  });

  it("a burst of clients that all leave: every generation CANCELLED, the budget whole again", async () => {
    const { key } = await user();
    const client = new OpenAI({ apiKey: key, baseURL: `http://127.0.0.1:${t.port}/v1`, maxRetries: 0 });
    const n = 6;
    const acs = Array.from({ length: n }, () => new AbortController());
    const calls = acs.map((ac, i) => leaves(client.chat.completions.create({ model: "openai/gpt-4o-mini", messages: [{ role: "user", content: `burst ${i}` }] }, { signal: ac.signal })));
    await until(() => generations(key), (g) => g.length === n && g.every((x) => x.status === "RUNNING" || x.status === "QUEUED"), 20_000, "all created");
    for (const ac of acs) ac.abort();
    await Promise.all(calls);
    const gens = await until(() => generations(key), (g) => g.every((x) => x.status !== "RUNNING" && x.status !== "QUEUED"), 10_000, "all terminal");
    expect(gens.map((g) => g.status)).toEqual(Array(n).fill("CANCELLED"));
    const q = await until(() => quota(t, key), (v) => v.reservedUsd === 0, 5_000, "every reservation released");
    expect(q.spentUsd).toBe(0);
  });
});
