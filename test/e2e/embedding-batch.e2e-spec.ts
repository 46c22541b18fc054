/**
 * Embedding micro-batching end to end: concurrent EMBEDDING generations for the same model
 * go upstream as one POST /v1/embeddings (input array), and each gets its own vector back.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bearerOf, fakeEmbedding, startOpenAIFake, type OpenAIFake } from "../fakes/openai.fake";
import { startTestApp, type TestApp } from "../helpers/test-app";

const CREATE = `mutation($input: CreateGenerationInput!) {
  createGeneration(input: $input) { id status prompt error { code message } output { embedding } attempts { attemptNo status keyLabel costUsd } }
}`;

interface Gen {
  id: string;
  status: string;
  prompt: string;
  error: { code: string; message: string } | null;
  output: { embedding: number[] | null } | null;
  attempts: { attemptNo: number; status: string; keyLabel: string | null; costUsd: number }[];
}

const KEYS = [{ label: "a", key: "sk-test-aaaa1111" }, { label: "b", key: "sk-test-bbbb2222" }];

function app(fake: OpenAIFake, embeddingBatch: { maxSize: number; maxWaitMs: number }): Promise<TestApp> {
  return startTestApp({
    worker: { concurrency: 16 },
    // The batcher is fed by queued jobs (the first test pauses the queue to line them up): no in-process runs.
    sync: { inProcess: false },
    providers: { vendors: { openai: { baseUrl: `${fake.url}/v1`, keys: KEYS } }, embeddingBatch, healthIntervalMs: 0 },
  } as never);
}

const embed = (prompt: string) => ({ modality: "EMBEDDING", model: "openai/text-embedding-3-small", prompt, cache: "BYPASS", wait: 30 });

async function embedAll(t: TestApp, prompts: string[]): Promise<Gen[]> {
  const res = await Promise.all(prompts.map((p) => t.gql<{ createGeneration: Gen }>(t.adminKey, CREATE, { input: embed(p) })));
  for (const r of res) expect(r.errors).toBeUndefined();
  return res.map((r) => r.data!.createGeneration);
}

const embeddingCalls = (fake: OpenAIFake) => fake.requests.filter((r) => r.method === "POST" && r.path.split("?")[0] === "/v1/embeddings");

function expectOwnVectors(gens: Gen[], prompts: string[]): void {
  gens.forEach((g, i) => {
    expect(g.status).toBe("SUCCEEDED");
    expect(g.error).toBeNull();
    expect(g.prompt).toBe(prompts[i]);
    const want = fakeEmbedding(prompts[i]);
    const got = g.output!.embedding!;
    expect(got).toHaveLength(want.length);
    got.forEach((x, j) => expect(x).toBeCloseTo(want[j], 6));
    expect(g.attempts).toHaveLength(1);
    expect(g.attempts[0].status).toBe("SUCCEEDED");
    expect(["a", "b"]).toContain(g.attempts[0].keyLabel);
    expect(g.attempts[0].costUsd).toBeGreaterThan(0);
  });
  // Different prompts, different vectors: nobody got a neighbour's answer.
  expect(new Set(gens.map((g) => JSON.stringify(g.output!.embedding))).size).toBe(gens.length);
}

describe("embedding micro-batching (EMBEDDING_BATCH_MAX_SIZE 16, EMBEDDING_BATCH_MAX_WAIT_MS 50, WORKER_CONCURRENCY 16)", () => {
  let fake: OpenAIFake;
  let t: TestApp;
  beforeAll(async () => {
    fake = await startOpenAIFake();
    t = await app(fake, { maxSize: 16, maxWaitMs: 50 });
  });
  afterAll(async () => {
    await t?.close();
    await fake?.close();
  });

  it("8 concurrent generations: one upstream call with 8 inputs, each generation gets its own vector", async () => {
    const prompts = Array.from({ length: 8 }, (_, i) => `batch me ${i}: ${"abcdefgh"[i].repeat(i + 1)}`);
    // The jobs are held back until all 8 are queued, then released together: they reach the
    // batcher within its window however long the creates took.
    await t.app.queue.queue.pause();
    let gens: Gen[];
    try {
      const pending = embedAll(t, prompts);
      await until(async () => (await t.app.queue.depth()).waiting === 8);
      await t.app.queue.queue.resume();
      gens = await pending;
    } finally {
      if (await t.app.queue.queue.isPaused()) await t.app.queue.queue.resume();
    }
    expectOwnVectors(gens, prompts);

    const calls = embeddingCalls(fake);
    expect(calls).toHaveLength(1);
    const body = calls[0].body as { model: string; input: string[]; encoding_format: string };
    expect(body.model).toBe("text-embedding-3-small");
    expect(body.encoding_format).toBe("float");
    expect(Array.isArray(body.input)).toBe(true);
    expect(body.input).toHaveLength(8);
    expect([...body.input].sort()).toEqual([...prompts].sort());
    // Every generation records the key the shared call ran under.
    const key = KEYS.find((k) => k.key === bearerOf(calls[0]));
    expect(key).toBeDefined();
    for (const g of gens) expect(g.attempts[0].keyLabel).toBe(key!.label);
  });

  it("requests with different params never share a call: each upstream call carries its own requests' dimensions and user", async () => {
    const before = embeddingCalls(fake).length;
    const kinds = [{}, { dimensions: 4 }, { dimensions: 4, user: "u1" }, { user: "u1", dimensions: 4 }, {}, { dimensions: 4 }];
    const prompts = kinds.map((_, i) => `params ${i} ${Math.random()}`);
    await t.app.queue.queue.pause();
    let res: { data?: { createGeneration: Gen } | null; errors?: unknown }[];
    try {
      const pending = Promise.all(prompts.map((p, i) => t.gql<{ createGeneration: Gen }>(t.adminKey, CREATE, { input: { ...embed(p), params: kinds[i] } })));
      await until(async () => (await t.app.queue.depth()).waiting === prompts.length);
      await t.app.queue.queue.resume();
      res = await pending;
    } finally {
      if (await t.app.queue.queue.isPaused()) await t.app.queue.queue.resume();
    }
    for (const r of res) expect(r.errors).toBeUndefined();
    for (const r of res) expect(r.data!.createGeneration.status).toBe("SUCCEEDED");
    const calls = embeddingCalls(fake).slice(before);
    // Three distinct params sets ({}, {dimensions: 4}, {dimensions: 4, user: u1} in either key order): at least
    // three calls (three when each set's jobs reach the batcher within its window; a loaded machine may split one).
    expect(calls.length).toBeGreaterThanOrEqual(3);
    for (const c of calls) {
      const body = c.body as { input: string[] | string; dimensions?: number; user?: string };
      const inputs = Array.isArray(body.input) ? body.input : [body.input];
      for (const input of inputs) {
        const want = kinds[prompts.indexOf(input)] as { dimensions?: number; user?: string };
        expect(body.dimensions, `the call carrying "${input}"`).toBe(want.dimensions);
        expect(body.user, `the call carrying "${input}"`).toBe(want.user);
      }
    }
    expect(calls.flatMap((c) => (c.body as { input: string[] | string }).input).sort()).toEqual([...prompts].sort());
  });

  it("8 generations created at the same moment (no queue tricks) still share at most 2 upstream calls", async () => {
    const before = embeddingCalls(fake).length;
    const prompts = Array.from({ length: 8 }, (_, i) => `concurrent ${i}`);
    const gens = await embedAll(t, prompts);
    expectOwnVectors(gens, prompts);
    const calls = embeddingCalls(fake).slice(before);
    expect(calls.length).toBeGreaterThanOrEqual(1);
    expect(calls.length).toBeLessThanOrEqual(2);
    expect(calls.flatMap((c) => (c.body as { input: string[] | string }).input).sort()).toEqual([...prompts].sort());
  });
});

describe("embedding batching off (EMBEDDING_BATCH_MAX_WAIT_MS 0)", () => {
  let fake: OpenAIFake;
  let t: TestApp;
  beforeAll(async () => {
    fake = await startOpenAIFake();
    t = await app(fake, { maxSize: 16, maxWaitMs: 0 });
  });
  afterAll(async () => {
    await t?.close();
    await fake?.close();
  });

  it("3 concurrent generations make 3 upstream calls, one input each", async () => {
    const prompts = ["solo one", "solo two", "solo three"];
    const gens = await embedAll(t, prompts);
    expectOwnVectors(gens, prompts);
    const calls = embeddingCalls(fake);
    expect(calls).toHaveLength(3);
    expect(calls.map((c) => (c.body as { input: unknown }).input).sort()).toEqual([...prompts].sort());
  });
});

async function until(ok: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`condition not met after ${timeoutMs}ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
