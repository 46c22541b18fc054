import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { testConfig } from "../../config/config";
import { ProviderRegistry } from "../../providers/registry";
import { buildProviders } from "../providers/provider-setup";
import type { BatchExecutor } from "../generations/run/embedding-batcher";
import { OFFLINE_EMBEDDER, offlineEmbedding } from "./offline-embedder";
import { modelEmbedder, PromptEmbedder, type EmbedOutcome, type PromptEmbedderDeps } from "./prompt-embedder";
import { startWordVectorEmbeddingsFake, wordVectorEmbedding, type WordVectorFake } from "../../../test/fakes/word-vector-embeddings.fake";

const MODEL = "openai/text-embedding-3-small";

/**
 * The semantic cache's embedder with a configured model: the real openai-compatible adapter
 * (embedBatch → POST /v1/embeddings) against a local server of averaged word vectors. The
 * executor runs the adapter as ProviderService.runBatch does, minus the key pool (one env key).
 */
describe("PromptEmbedder with an embedding model", { timeout: 60_000 }, () => {
  let fake: WordVectorFake;
  let registry: ProviderRegistry;
  const exec: BatchExecutor = async (provider, reqs, timeoutMs) => ({
    results: await provider.embedBatch!(reqs, {
      apiKey: "sk-spec-0000", signal: AbortSignal.timeout(timeoutMs), timeoutMs, attempt: 1, onDelta: () => undefined, onProgress: () => undefined,
    }),
  });
  const make = (over: Partial<PromptEmbedderDeps> = {}) => {
    const outcomes: string[] = [];
    const failures: unknown[] = [];
    const embedder = new PromptEmbedder({
      model: MODEL, registry, exec, timeoutMs: 10_000, batch: { maxSize: 64, maxWaitMs: 5 },
      onEmbed: (e, o: EmbedOutcome) => void outcomes.push(`${e}:${o}`),
      onFailure: (err) => void failures.push(err),
      ...over,
    });
    return { embedder, outcomes, failures };
  };
  const cos = (a: Float32Array, b: ArrayLike<number>) => a.reduce((s, x, i) => s + x * b[i], 0);

  beforeAll(async () => {
    fake = await startWordVectorEmbeddingsFake();
    const cfg = testConfig({ providers: { vendors: { openai: { baseUrl: `${fake.url}/v1`, keys: [{ label: "spec", key: "sk-spec-0000" }] } } } } as never);
    registry = new ProviderRegistry(buildProviders(cfg.providers, "http://localhost").providers);
  });
  afterAll(async () => {
    await fake?.close();
  });
  beforeEach(() => {
    fake.requests.length = 0;
    fake.scenario = "ok";
  });

  it("concurrent lookups go upstream as one batched call; identical texts in flight share a slot", async () => {
    const { embedder, outcomes } = make();
    const prompts = Array.from({ length: 12 }, (_, i) => `a lighthouse on a cliff number ${i}`);
    const out = await Promise.all([...prompts, prompts[0], prompts[3]].map((p) => embedder.embed(p)));
    expect(fake.embeddingCalls()).toHaveLength(1);
    expect((fake.embeddingCalls()[0].body as { input: string[] }).input).toEqual(prompts);
    expect(embedder.upstreamCalls).toBe(1);
    expect(new Set(out.map((o) => o.embedder))).toEqual(new Set([modelEmbedder(MODEL)]));
    // The model's own vectors (L2-normalised), each back at its own prompt.
    prompts.forEach((p, i) => expect(cos(out[i].vector, wordVectorEmbedding(p))).toBeCloseTo(1, 5));
    expect(out[12].vector).toEqual(out[0].vector);
    expect(outcomes.every((o) => o === `${modelEmbedder(MODEL)}:model`)).toBe(true);
  });

  it("a prompt embedded before is served from the embedder's cache: no second call", async () => {
    const { embedder, outcomes } = make();
    const first = await embedder.embed("the capital of France");
    expect(fake.embeddingCalls()).toHaveLength(1);
    const again = await Promise.all([embedder.embed("the capital of France"), embedder.embed("the capital of France")]);
    expect(fake.embeddingCalls()).toHaveLength(1);
    expect(again.map((a) => a.vector)).toEqual([first.vector, first.vector]);
    expect(outcomes).toEqual([`${modelEmbedder(MODEL)}:model`, `${modelEmbedder(MODEL)}:cached`, `${modelEmbedder(MODEL)}:cached`]);
  });

  it("a server slower than SEMANTIC_CACHE_EMBEDDING_TIMEOUT_MS: the lookup answers with the offline embedder, marked as such", async () => {
    const release = fake.hold(); // nothing answers until the assertions are done
    try {
      const { embedder, outcomes, failures } = make({ timeoutMs: 200 });
      const got = await embedder.embed("a red fox in the snow");
      expect(fake.embeddingCalls()).toHaveLength(1); // the call was made and is still unanswered
      expect(got.embedder).toBe(OFFLINE_EMBEDDER);
      expect(got.vector).toEqual(offlineEmbedding("a red fox in the snow"));
      expect(outcomes).toEqual([`${OFFLINE_EMBEDDER}:fallback`]);
      expect(failures).toHaveLength(1);
    } finally {
      release();
    }
  });

  it("an error falls back to the offline embedder, skips the model while it cools down, then uses it again", async () => {
    let now = 1_000_000;
    const { embedder, outcomes } = make({ cooldownMs: 30_000, now: () => now });
    fake.scenario = "500";
    const failed = await embedder.embed("ocean waves at sunset");
    expect(failed.embedder).toBe(OFFLINE_EMBEDDER);
    expect(failed.vector).toEqual(offlineEmbedding("ocean waves at sunset"));
    expect(fake.embeddingCalls()).toHaveLength(1);
    fake.scenario = "ok";
    // Cooling down: the offline embedder answers without a call to the server.
    expect((await embedder.embed("ocean waves at dusk")).embedder).toBe(OFFLINE_EMBEDDER);
    expect(fake.embeddingCalls()).toHaveLength(1);
    now += 30_001;
    const back = await embedder.embed("ocean waves at sunset");
    expect(back.embedder).toBe(modelEmbedder(MODEL));
    expect(fake.embeddingCalls()).toHaveLength(2);
    expect(outcomes).toEqual([`${OFFLINE_EMBEDDER}:fallback`, `${OFFLINE_EMBEDDER}:fallback`, `${modelEmbedder(MODEL)}:model`]);
  });

  it("an answer the adapter cannot read (malformed body) falls back too; the fallback vector is never cached as the model's", async () => {
    let now = 0;
    const { embedder } = make({ cooldownMs: 10, now: () => now });
    fake.scenario = "malformed";
    expect((await embedder.embed("a quiet mountain lake")).embedder).toBe(OFFLINE_EMBEDDER);
    fake.scenario = "ok";
    now += 11;
    expect((await embedder.embed("a quiet mountain lake")).embedder).toBe(modelEmbedder(MODEL));
    expect(fake.embeddingCalls()).toHaveLength(2);
  });
});
