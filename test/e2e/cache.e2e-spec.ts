import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collect, startTestApp, type TestApp } from "../helpers/test-app";

const CREATE = `mutation($input: CreateGenerationInput!) { createGeneration(input: $input) {
  id status cached seed costUsd output { text embedding url } cacheHit { kind similarity sourceGenerationId } attempts { status } } }`;

describe("exact cache", () => {
  let t: TestApp;
  let shared: TestApp;
  let a: { id: string; key: string };
  let b: { id: string; key: string };
  const run = (key: string, input: Record<string, unknown>, app = t) =>
    app.gql(key, CREATE, { input: { modality: "TEXT", model: "simulated/text", wait: 15, ...input } }).then((r) => {
      expect(r.errors).toBeUndefined();
      return r.data!.createGeneration;
    });

  beforeAll(async () => {
    t = await startTestApp({ cache: { ttlSeconds: { TEXT: 86_400, IMAGE: 86_400, VIDEO: 86_400, AUDIO: 1, EMBEDDING: 86_400 } } });
    a = await t.createUser(undefined, { tier: "pro" });
    b = await t.createUser(undefined, { tier: "pro" });
    shared = await startTestApp({ cache: { sharedModels: ["simulated/embedding"] } });
  });
  afterAll(async () => {
    await t?.close();
    await shared?.close();
  });

  it("does not cache a request without a seed or temperature 0 (another answer, please)", async () => {
    const first = await run(a.key, { prompt: "no seed here" });
    const second = await run(a.key, { prompt: "no seed here" });
    expect([first.cached, second.cached]).toEqual([false, false]);
    expect(second.attempts).toHaveLength(1);
  });

  it("serves a seeded repeat from cache: SUCCEEDED at once, cost 0, same output, no upstream attempt", async () => {
    const first = await run(a.key, { prompt: "seeded   prompt", seed: 7 });
    const hit = await run(a.key, { prompt: "  seeded prompt ", seed: 7, params: { simulate: { latencyMs: 5000 } } });
    expect(hit).toMatchObject({ status: "SUCCEEDED", cached: true, costUsd: 0, attempts: [] });
    expect(hit.cacheHit).toEqual({ kind: "EXACT", similarity: 1, sourceGenerationId: first.id });
    expect(hit.output.text).toBe(first.output.text);
    expect((await run(a.key, { prompt: "seeded prompt", seed: 8 })).cached).toBe(false);
    expect((await run(a.key, { prompt: "seeded prompt", seed: 7, text: { maxTokens: 12 } })).cached).toBe(false);
  });

  it("caches temperature 0 and embeddings by default", async () => {
    await run(a.key, { prompt: "cold", text: { temperature: 0 } });
    expect((await run(a.key, { prompt: "cold", text: { temperature: 0 } })).cached).toBe(true);
    const e1 = await run(a.key, { modality: "EMBEDDING", model: "simulated/embedding", prompt: "vectors" });
    const e2 = await run(a.key, { modality: "EMBEDDING", model: "simulated/embedding", prompt: "vectors" });
    expect([e1.cached, e2.cached]).toEqual([false, true]);
    expect(e2.output.embedding).toEqual(e1.output.embedding);
  });

  it("never serves one user's private entry to another", async () => {
    await run(a.key, { prompt: "private", seed: 1 });
    expect((await run(b.key, { prompt: "private", seed: 1 })).cached).toBe(false);
    expect((await run(b.key, { prompt: "private", seed: 1 })).cached).toBe(true);
  });

  it("shares entries across users for routes configured as shared", async () => {
    const u1 = await shared.createUser();
    const u2 = await shared.createUser();
    await run(u1.key, { modality: "EMBEDDING", model: "simulated/embedding", prompt: "public" }, shared);
    expect((await run(u2.key, { modality: "EMBEDDING", model: "simulated/embedding", prompt: "public" }, shared)).cached).toBe(true);
  });

  it("USE caches a request without a seed and records the derived seed; BYPASS and REFRESH", async () => {
    const first = await run(a.key, { prompt: "opt in", cache: "USE" });
    expect(first.seed).toEqual(expect.any(Number));
    const hit = await run(a.key, { prompt: "opt in", cache: "USE" });
    expect(hit).toMatchObject({ cached: true, seed: first.seed });
    expect((await run(a.key, { prompt: "opt in", cache: "BYPASS" })).cached).toBe(false);
    const refreshed = await run(a.key, { prompt: "opt in", cache: "REFRESH" });
    expect(refreshed.cached).toBe(false);
    expect((await run(a.key, { prompt: "opt in", cache: "USE" })).cacheHit.sourceGenerationId).toBe(refreshed.id);
  });

  it("expires entries after the modality's TTL", async () => {
    const input = { modality: "AUDIO", model: "simulated/audio", prompt: "short tone", seed: 3 };
    await run(a.key, input);
    expect((await run(a.key, input)).cached).toBe(true);
    await new Promise((r) => setTimeout(r, 1600));
    expect((await run(a.key, input)).cached).toBe(false);
  });

  it("a hit costs 0 against the budget and still emits its event", async () => {
    await run(a.key, { prompt: "budget", seed: 11 });
    const before = (await t.gql(a.key, "{ quota { spentUsd reservedUsd requests } }")).data!.quota;
    const ws = t.wsClient(a.key);
    const sub = collect(ws, "subscription { myGenerations { type generation { id cached } } }", {}, (e: any) => e.generation.cached === true, 10_000);
    await new Promise((r) => setTimeout(r, 300)); // no snapshot on myGenerations: give the subscription a moment
    const hit = await run(a.key, { prompt: "budget", seed: 11 });
    const events = await sub.done;
    expect(events.at(-1)).toEqual({ type: "SUCCEEDED", generation: { id: hit.id, cached: true } });
    expect((await t.gql(a.key, "{ quota { spentUsd reservedUsd requests } }")).data!.quota).toEqual(before);
  });

  it("admins invalidate by generation and by model, and read stats", async () => {
    const src = await run(a.key, { prompt: "invalidate me", seed: 5 });
    expect((await run(a.key, { prompt: "invalidate me", seed: 5 })).cached).toBe(true);
    const removed = await t.gql(t.adminKey, `mutation($g: ID) { invalidateCache(generationId: $g) }`, { g: src.id });
    expect(removed.data!.invalidateCache).toBe(1);
    expect((await run(a.key, { prompt: "invalidate me", seed: 5 })).cached).toBe(false);
    expect((await t.gql(t.adminKey, `mutation { invalidateCache(model: "simulated/text") }`)).data!.invalidateCache).toBeGreaterThan(0);
    expect((await run(a.key, { prompt: "invalidate me", seed: 5 })).cached).toBe(false);
    const stats = (await t.gql(t.adminKey, "{ cacheStats { hits misses writes hitRate } }")).data!.cacheStats;
    expect(stats.hits).toBeGreaterThan(5);
    expect(stats.misses).toBeGreaterThan(5);
    expect((await t.gql(a.key, "{ cacheStats { hits } }")).errors![0].extensions!.code).toBe("FORBIDDEN");
  });
});

describe("semantic cache (opt-in)", () => {
  let t: TestApp;
  let other: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ cache: { semanticModels: ["simulated/image"] } });
    other = await startTestApp({ cache: { semanticModels: ["simulated/image"] } }, { db: t.db, prefix: t.config.redis.prefix, workers: false });
  });
  afterAll(async () => {
    await other?.close();
    await t?.close();
  });
  const img = (key: string, prompt: string, size = 64, app = t, extra: Record<string, unknown> = {}) =>
    app.gql(key, CREATE, { input: { modality: "IMAGE", model: "simulated/image", prompt, image: { width: size, height: size }, wait: 15, ...extra } }).then((r) => {
      expect(r.errors).toBeUndefined();
      return r.data!.createGeneration;
    });

  it("serves a similar prompt in the same scope, with its similarity; not a dissimilar one", async () => {
    const u = await t.createUser(undefined, { tier: "pro" });
    const first = await img(u.key, "sunset over the ocean");
    expect(first.cached).toBe(false);
    const hit = await img(u.key, "ocean at sunset");
    expect(hit.cached).toBe(true);
    expect(hit.cacheHit.kind).toBe("SEMANTIC");
    expect(hit.cacheHit.sourceGenerationId).toBe(first.id);
    expect(hit.cacheHit.similarity).toBeGreaterThanOrEqual(0.92);
    expect(hit.output.url).toBeTruthy();
    expect((await img(u.key, "a city at night")).cached).toBe(false);
  });

  it("a near neighbour that changes the meaning is a miss (verification): word order that swaps who does what", async () => {
    const u = await t.createUser(undefined, { tier: "pro" });
    const first = await img(u.key, "a dog chasing a man across the beach");
    expect(first.cached).toBe(false);
    // The offline embedder is blind to word order (similarity 1.0): before verification this was served first's image.
    const swapped = await img(u.key, "a man chasing a dog across the beach");
    expect(swapped.cached).toBe(false);
    expect(swapped.id).not.toBe(first.id);
    // The same meaning, reworded, is still a hit.
    const again = await img(u.key, "dog chasing a man across the beach");
    expect(again.cached).toBe(true);
    expect(again.cacheHit.sourceGenerationId).toBe(first.id);
    const metrics = await (await fetch(`${t.url.replace(/\/graphql$/, "")}/metrics`)).text();
    expect(metrics).toMatch(/switchboard_semantic_cache_rejected_total\{[^}]*\} [1-9]/);
  });

  it("never crosses sizes, users, or an opt-out", async () => {
    const u = await t.createUser(undefined, { tier: "pro" });
    const v = await t.createUser(undefined, { tier: "pro" });
    await img(u.key, "red fox in the snow", 64);
    expect((await img(u.key, "red foxes in snow", 128)).cached).toBe(false);
    expect((await img(v.key, "red foxes in snow", 64)).cached).toBe(false);
    expect((await img(u.key, "red foxes in snow", 64, t, { semanticCache: false })).cached).toBe(false);
    expect((await img(u.key, "red foxes in snow", 64)).cached).toBe(true);
  });

  it("keeps every node's index in step: an entry written by node A's worker is found on node B", async () => {
    const u = await t.createUser(undefined, { tier: "pro" });
    await img(u.key, "lighthouse on a cliff");
    const deadline = Date.now() + 5000;
    let hit = await img(u.key, "lighthouses on cliffs", 64, other);
    while (!hit.cached && Date.now() < deadline) hit = await img(u.key, "lighthouses on cliffs", 64, other);
    expect(hit.cacheHit?.kind).toBe("SEMANTIC");
  });

  it("invalidation by generation removes semantic entries on every node", async () => {
    const u = await t.createUser(undefined, { tier: "pro" });
    const src = await img(u.key, "mountain lake at dawn");
    expect((await img(u.key, "dawn at a mountain lake")).cached).toBe(true);
    expect((await t.gql(t.adminKey, `mutation($g: ID) { invalidateCache(generationId: $g) }`, { g: src.id })).data!.invalidateCache).toBeGreaterThanOrEqual(1);
    expect((await img(u.key, "dawn at a mountain lake", 64, other)).cached).toBe(false);
  });
});
