/**
 * The semantic cache with SEMANTIC_CACHE_EMBEDDING_MODEL (issue 20), through GraphQL: prompts are
 * embedded by the catalog's embedding model through its real OpenAI-compatible adapter, against a
 * local server of averaged pre-trained word vectors (test/fakes/word-vector-embeddings.fake.ts —
 * not a real sentence model). A paraphrase hits, the call is not charged to the user, concurrent
 * requests share batched embedding calls, and an embedding server that fails or does not answer
 * within SEMANTIC_CACHE_EMBEDDING_TIMEOUT_MS leaves the request working on the offline embedder.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWordVectorEmbeddingsFake, type WordVectorFake } from "../fakes/word-vector-embeddings.fake";
import { startTestApp, type TestApp } from "../helpers/test-app";

const CREATE = `mutation($input: CreateGenerationInput!) { createGeneration(input: $input) { id status cached cacheHit { kind sourceGenerationId similarity } } }`;

describe("semantic cache with an embedding model", { timeout: 120_000 }, () => {
  let fake: WordVectorFake;
  let t: TestApp;
  beforeAll(async () => {
    fake = await startWordVectorEmbeddingsFake();
    t = await startTestApp({
      cache: { semanticModels: ["simulated/image"], semanticEmbeddingModel: "openai/text-embedding-3-small" },
      // A wide batch window so requests sent together on a loaded machine still share a call.
      providers: { vendors: { openai: { baseUrl: `${fake.url}/v1`, keys: [{ label: "e2e", key: "sk-e2e-0000" }] } }, embeddingBatch: { maxSize: 64, maxWaitMs: 500 } },
    } as never);
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await fake?.close();
  });
  const img = (key: string, prompt: string) =>
    t.gql(key, CREATE, { input: { modality: "IMAGE", model: "simulated/image", prompt, image: { width: 64, height: 64 }, wait: 15 } }).then((r) => {
      expect(r.errors).toBeUndefined();
      return r.data!.createGeneration;
    });

  it("a paraphrase hits through the model's vectors; another entity misses; the embedding calls are not charged", async () => {
    const u = await t.createUser(undefined, { tier: "pro" });
    const first = await img(u.key, "What is the capital of France?");
    expect(first.cached).toBe(false);
    const hit = await img(u.key, "Tell me the capital of France.");
    expect(hit.cached).toBe(true);
    expect(hit.cacheHit).toMatchObject({ kind: "SEMANTIC", sourceGenerationId: first.id });
    expect((await img(u.key, "What is the capital of Germany?")).cached).toBe(false);
    expect(fake.embeddingCalls().length).toBeGreaterThan(0);
    // Only the user's own generations are in the ledger: nothing for the embedding model.
    const rows = await t.app.ds.query(`SELECT DISTINCT g.model FROM generations g WHERE g.user_id = $1`, [u.id]);
    expect(rows.map((r: { model: string }) => r.model)).toEqual(["simulated/image"]);
  });

  it("concurrent createGeneration requests share batched embedding calls, none charged to the user", async () => {
    const u = await t.createUser(undefined, { tier: "pro" });
    const before = fake.embeddingCalls().length;
    const subjects = ["lighthouse", "volcano", "glacier", "canyon", "waterfall", "meadow", "harbour", "desert"];
    const gens = await Promise.all(subjects.map((s) => img(u.key, `a watercolour ${s} under a violet sky`)));
    expect(gens.map((g) => g.status)).toEqual(subjects.map(() => "SUCCEEDED"));
    const calls = fake.embeddingCalls().slice(before);
    const inputs = calls.flatMap((c) => (c.body as { input: string | string[] }).input);
    // Every prompt was embedded by the model (lookup; the entry written after success reuses the vector)…
    expect(new Set(inputs)).toEqual(new Set(subjects.map((s) => `a watercolour ${s} under a violet sky`)));
    // …in fewer upstream calls than requests.
    expect(calls.length).toBeGreaterThan(0);
    expect(calls.length).toBeLessThan(subjects.length);
    // The user's generations and ledger are the 8 images alone: nothing made or charged for the embeddings.
    const own = await t.app.ds.query(`SELECT id, model FROM generations WHERE user_id = $1`, [u.id]);
    expect(own).toHaveLength(subjects.length);
    expect(new Set(own.map((r: { model: string }) => r.model))).toEqual(new Set(["simulated/image"]));
    const ledger = await t.app.ds.query(`SELECT DISTINCT generation_id FROM spend_ledger WHERE user_id = $1`, [u.id]);
    const ids = new Set(own.map((r: { id: string }) => r.id));
    expect(ledger.every((r: { generation_id: string }) => ids.has(r.generation_id))).toBe(true);
  });

  it("an embedding server that fails: the request still succeeds (offline embedder)", async () => {
    const u = await t.createUser(undefined, { tier: "pro" });
    (fake as unknown as { scenario: string }).scenario = "500";
    try {
      const g = await img(u.key, "a lighthouse on a rocky cliff at dawn");
      expect(g.status).toBe("SUCCEEDED");
      expect(g.cached).toBe(false);
    } finally {
      (fake as unknown as { scenario: string }).scenario = "ok";
    }
  });
});

describe("semantic cache with an embedding model that does not answer in time", { timeout: 120_000 }, () => {
  let fake: WordVectorFake;
  let t: TestApp;
  beforeAll(async () => {
    fake = await startWordVectorEmbeddingsFake();
    t = await startTestApp({
      cache: { semanticModels: ["simulated/image"], semanticEmbeddingModel: "openai/text-embedding-3-small", semanticEmbeddingTimeoutMs: 300 },
      providers: { vendors: { openai: { baseUrl: `${fake.url}/v1`, keys: [{ label: "e2e", key: "sk-e2e-0000" }] } } },
    } as never);
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await fake?.close();
  });

  it("the request succeeds on the offline embedder while the embedding server still has not answered", async () => {
    const u = await t.createUser(undefined, { tier: "pro" });
    const release = fake.hold(); // the server answers nothing until the assertions are done
    try {
      const r = await t.gql(u.key, CREATE, { input: { modality: "IMAGE", model: "simulated/image", prompt: "a lighthouse on a rocky cliff at dawn", image: { width: 64, height: 64 }, wait: 15 } });
      expect(r.errors).toBeUndefined();
      expect(r.data!.createGeneration).toMatchObject({ status: "SUCCEEDED", cached: false });
      expect(fake.embeddingCalls()).toHaveLength(1); // asked once, never answered; the model then cools down
      const stored = await t.app.ds.query(`SELECT embedder FROM semantic_cache_entries WHERE source_generation_id = $1`, [r.data!.createGeneration.id]);
      expect(stored).toEqual([{ embedder: "offline-hashed-v1" }]);
      const metrics = await (await fetch(`${t.url.replace(/\/graphql$/, "")}/metrics`)).text();
      expect(metrics).toMatch(/switchboard_semantic_cache_embeddings_total\{[^}]*embedder="offline-hashed-v1"[^}]*outcome="fallback"[^}]*\} [1-9]/);
    } finally {
      release();
    }
  });
});
