/**
 * Routing and fallback end to end, against fake OpenAI and Anthropic servers that speak
 * their real wire formats: explicit fallbacks, aliases, `auto` with requirements, a stream
 * broken mid-answer (RESTARTED, never a partial success), failed output validation, cost
 * estimates with their breakdown, and every way a route can be wrong.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAnthropicFake, ANTHROPIC_FAKE_TEXT, type AnthropicFake } from "../fakes/anthropic.fake";
import type { FakeProviderServer } from "../fakes/fake-server";
import { startOpenAIFake } from "../fakes/openai.fake";
import { collect, startTestApp, type TestApp } from "../helpers/test-app";

const CREATE = `mutation($input: CreateGenerationInput!) {
  createGeneration(input: $input) {
    id status model candidates provider { id } output { text } error { code message } costUsd estimatedCostUsd
    attempts { attemptNo provider model status errorKind errorMessage keyLabel costUsd }
  }
}`;
const SUB = `subscription($id: ID!) { generationUpdated(id: $id) { seq type message delta generation { status } } }`;

describe("routing with fallback across real adapters", () => {
  let t: TestApp;
  let openai: FakeProviderServer;
  let anthropic: AnthropicFake;
  let freeUser: { id: string; key: string };

  beforeAll(async () => {
    [openai, anthropic] = await Promise.all([startOpenAIFake(), startAnthropicFake()]);
    // One job at a time: a slow blocker keeps the generation under test QUEUED until we subscribe.
    t = await startTestApp({
      worker: { concurrency: 1 },
      providers: {
        vendors: {
          openai: { baseUrl: `${openai.url}/v1`, keys: [{ label: "env-1", key: "sk-test-openai-1234" }] },
          anthropic: { baseUrl: anthropic.url, keys: [{ label: "env-1", key: "sk-ant-test-5678" }] },
        },
      },
    });
    freeUser = await t.createUser("free-router@example.com", { tier: "free" });
  });
  afterAll(async () => {
    await t?.close();
    await Promise.all([openai?.close(), anthropic?.close()]);
  });

  /** Creates the generation behind a blocker, subscribes while it is QUEUED, returns its id and every event to the terminal one. */
  const watch = async (input: Record<string, unknown>) => {
    await t.gql(t.adminKey, CREATE, { input: { modality: "TEXT", model: "simulated/text", prompt: "blocker", params: { simulate: { latencyMs: 400 } } } });
    const res = await t.gql(t.adminKey, CREATE, { input: { modality: "TEXT", prompt: "Say hello", ...input, wait: 0 } });
    expect(res.errors).toBeUndefined();
    const id = res.data!.createGeneration.id;
    const events = await collect(t.wsClient(t.adminKey), SUB, { id }, (e: any) => ["SUCCEEDED", "FAILED"].includes(e.type)).done;
    return { id, events };
  };

  const create = async (input: Record<string, unknown>, key = t.adminKey) => {
    const res = await t.gql(key, CREATE, { input: { modality: "TEXT", prompt: "Say hello", wait: 20, ...input } });
    return res;
  };

  it("serves from the primary when it is healthy, recording the key label", async () => {
    openai.scenario = "ok";
    const res = await create({ model: "openai/gpt-4o-mini", fallbackModels: ["anthropic/claude-haiku-4-5"] });
    expect(res.errors).toBeUndefined();
    const g = res.data!.createGeneration;
    expect(g.status).toBe("SUCCEEDED");
    expect(g.provider.id).toBe("openai");
    expect(g.candidates).toEqual(["openai/gpt-4o-mini", "anthropic/claude-haiku-4-5"]);
    expect(g.output.text).toContain("fake OpenAI answer");
    expect(g.attempts).toMatchObject([{ provider: "openai", model: "gpt-4o-mini", status: "SUCCEEDED", keyLabel: "env-1" }]);
    expect(g.attempts[0].costUsd).toBeGreaterThan(0);
    expect(g.costUsd).toBeCloseTo(g.attempts[0].costUsd, 6);
    // The reservation covers the most expensive candidate, so a fallback can never overspend.
    expect(g.estimatedCostUsd).toBeGreaterThan(0);
  });

  it("falls back to the next candidate on a retryable failure, with a FALLBACK event", async () => {
    openai.scenario = "503";
    const { id, events } = await watch({ model: "openai/gpt-4o-mini", fallbackModels: ["anthropic/claude-haiku-4-5"] });
    const types = events.map((e: any) => e.type);
    expect(types).toContain("FALLBACK");
    const fb = events.find((e: any) => e.type === "FALLBACK") as any;
    expect(fb.message).toMatch(/openai\/gpt-4o-mini failed \(unavailable/);
    const final = (await t.gql(t.adminKey, `query($id: ID!) { generation(id: $id) { status provider { id } output { text } attempts { provider status errorKind } } }`, { id })).data!.generation;
    expect(final.status).toBe("SUCCEEDED");
    expect(final.provider.id).toBe("anthropic");
    expect(final.output.text).toBe(ANTHROPIC_FAKE_TEXT);
    expect(final.attempts).toMatchObject([
      { provider: "openai", status: "FAILED", errorKind: "unavailable" },
      { provider: "anthropic", status: "SUCCEEDED" },
    ]);
    openai.scenario = "ok";
  });

  it("a stream cut mid-answer restarts on the next candidate: RESTARTED, then only the new answer", async () => {
    openai.scenario = "cut";
    const { id, events } = await watch({ model: "openai/gpt-4o-mini", fallbackModels: ["anthropic/claude-haiku-4-5"] });
    const ev = events.map((e: any) => e);
    const restarted = ev.findIndex((e: any) => e.type === "RESTARTED");
    expect(restarted).toBeGreaterThan(-1);
    // What a client keeps: deltas after the last RESTARTED (a SNAPSHOT may carry text too).
    const after = ev.slice(restarted + 1).filter((e: any) => e.type === "DELTA").map((e: any) => e.delta).join("");
    expect(after).toBe(ANTHROPIC_FAKE_TEXT);
    const final = (await t.gql(t.adminKey, `query($id: ID!) { generation(id: $id) { status output { text } attempts { provider status errorKind } } }`, { id })).data!.generation;
    expect(final.status).toBe("SUCCEEDED");
    expect(final.output.text).toBe(ANTHROPIC_FAKE_TEXT);
    expect(final.attempts[0]).toMatchObject({ provider: "openai", status: "FAILED" });
    openai.scenario = "ok";
  });

  it("output that fails validation (JSON asked, prose returned) is an INVALID attempt and the next candidate runs", async () => {
    openai.scenario = "ok";
    const res = await create({ model: "openai/gpt-4o-mini", fallbackModels: ["simulated/text"], text: { responseFormat: "JSON" }, seed: 3 });
    const g = res.data!.createGeneration;
    expect(g.status).toBe("SUCCEEDED");
    expect(g.provider.id).toBe("simulated");
    expect(() => JSON.parse(g.output.text)).not.toThrow();
    expect(g.attempts[0], JSON.stringify(g.attempts[0])).toMatchObject({ provider: "openai", status: "INVALID", errorKind: "bad_response" });
    expect(g.attempts[0].costUsd).toBeGreaterThan(0); // the invalid call still cost money
    expect(g.costUsd).toBeCloseTo(g.attempts.reduce((s: number, a: any) => s + a.costUsd, 0), 6);
  });

  it("a non-retryable failure (401) does not fall back: FAILED with PROVIDER_AUTH", async () => {
    openai.scenario = "401";
    const g = (await create({ model: "openai/gpt-4o-mini", fallbackModels: ["anthropic/claude-haiku-4-5"] })).data!.createGeneration;
    expect(g.status).toBe("FAILED");
    expect(g.error.code).toBe("PROVIDER_AUTH");
    expect(g.attempts).toHaveLength(1);
    expect(JSON.stringify(g)).not.toContain("sk-test-openai-1234");
    openai.scenario = "ok";
  });

  it("an alias resolves to its chain of configured models; the chain is the fallback order", async () => {
    const g = (await create({ model: "fast-text" })).data!.createGeneration;
    expect(g.status).toBe("SUCCEEDED");
    // groq is not configured, so the chain starts at openai; simulated closes it.
    expect(g.candidates[0]).toBe("openai/gpt-4o-mini");
    expect(g.candidates).toContain("anthropic/claude-haiku-4-5");
    expect(g.candidates).not.toContain("groq/llama-3.1-8b-instant");
    expect(g.model).toBe("fast-text");
  });

  it("auto picks the cheapest model that meets the requirements", async () => {
    const est = await t.gql(t.adminKey, `query($input: CreateGenerationInput!) { estimateCost(input: $input) { estimatedCostUsd model provider strategy candidates { model estimatedCostUsd inputTokens outputTokens } } }`, {
      input: { modality: "TEXT", model: "auto", prompt: "Write a haiku", requirements: { minQuality: 80 }, text: { maxTokens: 100 } },
    });
    expect(est.errors).toBeUndefined();
    const e = est.data!.estimateCost;
    expect(e.strategy).toBe("auto");
    // Configured TEXT models with quality ≥ 80: openai gpt-4o (85), gpt-4.1 (88), anthropic sonnet (92), opus (95); cheapest first.
    expect(e.candidates.map((c: any) => c.model)).toEqual(["openai/gpt-4.1", "openai/gpt-4o", "anthropic/claude-sonnet-4-6", "anthropic/claude-opus-4-7"].slice(0, e.candidates.length));
    const costs = e.candidates.map((c: any) => c.estimatedCostUsd);
    expect([...costs].sort((a, b) => a - b)).toEqual(costs);
    expect(e.estimatedCostUsd).toBe(Math.max(...costs));
    expect(e.candidates[0].outputTokens).toBe(100);
    expect(e.candidates[0].inputTokens).toBeGreaterThan(0);

    const cheap = (await t.gql(t.adminKey, `query($input: CreateGenerationInput!) { estimateCost(input: $input) { model } }`, {
      input: { modality: "TEXT", model: "auto", prompt: "hi" },
    })).data!.estimateCost;
    expect(cheap.model).toBe("simulated/text"); // the cheapest of all with no quality floor
  });

  it("a providers file adds models, prices and aliases, and restricts tiers: FORBIDDEN for the explicit model, filtered from auto", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "sb-providers-"));
    const file = path.join(dir, "providers.json");
    writeFileSync(file, JSON.stringify({
      models: [
        { id: "openai/my-finetune", modality: "TEXT", quality: 60, pricing: { inputPer1kTokensUsd: 0.00001, outputPer1kTokensUsd: 0.00002 }, description: "a fine-tune" },
        { id: "openai/gpt-4o-mini", modality: "TEXT", pricing: { inputPer1kTokensUsd: 0.5 } },
      ],
      aliases: { "house-text": ["openai/my-finetune", "simulated/text"] },
      tiers: { free: ["simulated/*", "openai/my-finetune"] },
    }));
    const t2 = await startTestApp({ providers: { file, vendors: { openai: { baseUrl: `${openai.url}/v1`, keys: [{ label: "env-1", key: "sk-x-000000001" }] } } } });
    try {
      const free = await t2.createUser("f@example.com", { tier: "free" });
      const denied = await t2.gql(free.key, CREATE, { input: { modality: "TEXT", model: "openai/gpt-4o-mini", prompt: "x", wait: 0 } });
      expect(denied.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
      expect(denied.errors![0].message).toMatch(/your tier \(free\) may not use openai\/gpt-4o-mini; allowed: simulated\/\*, openai\/my-finetune/);
      const viaAlias = await t2.gql(free.key, CREATE, { input: { modality: "TEXT", model: "house-text", prompt: "x", wait: 10 } });
      expect(viaAlias.errors).toBeUndefined();
      expect(viaAlias.data!.createGeneration).toMatchObject({ status: "SUCCEEDED", candidates: ["openai/my-finetune", "simulated/text"], provider: { id: "openai" } });
      const auto = await t2.gql(free.key, `query($input: CreateGenerationInput!) { estimateCost(input: $input) { candidates { model } } }`, {
        input: { modality: "TEXT", model: "auto", prompt: "x", requirements: { minQuality: 50 } },
      });
      expect(auto.data!.estimateCost.candidates.map((c: any) => c.model)).toEqual(["openai/my-finetune"]);
      const models = await t2.gql(t2.adminKey, `{ models(modality: TEXT) { id quality pricing { inputPer1kTokensUsd } } }`);
      expect(models.data!.models.find((m: any) => m.id === "openai/gpt-4o-mini").pricing.inputPer1kTokensUsd).toBe(0.5); // overridden price
      expect(models.data!.models.find((m: any) => m.id === "openai/my-finetune").quality).toBe(60);
      // A wrong providers file is a startup error naming the fix.
      writeFileSync(file, JSON.stringify({ aliases: { "x-text": ["openai/nope"] } }));
      await expect(startTestApp({ providers: { file } })).rejects.toThrow(/alias x-text names unknown model openai\/nope/);
    } finally {
      await t2.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("bad routes are clear errors naming the fix", async () => {
    const cases: [Record<string, unknown>, RegExp, string][] = [
      [{ model: "nosuch/model" }, /unknown provider "nosuch"/, "BAD_USER_INPUT"],
      [{ model: "openai/gpt-9" }, /unknown model "openai\/gpt-9"; models for TEXT: .*openai\/gpt-4o-mini/, "BAD_USER_INPUT"],
      [{ model: "groq/llama-3.1-8b-instant" }, /groq has no API key: set GROQ_API_KEY/, "BAD_USER_INPUT"],
      [{ model: "ollama/llama3.2" }, /set OLLAMA_BASE_URL/, "BAD_USER_INPUT"],
      [{ model: "openai/text-embedding-3-small" }, /is EMBEDDING, not TEXT/, "BAD_USER_INPUT"],
      [{ model: "fastest-text" }, /unknown model "fastest-text".*alias/, "BAD_USER_INPUT"],
      [{ model: "auto", requirements: { minQuality: 99 } }, /No TEXT model meets requirements/, "BAD_USER_INPUT"],
      [{ model: "auto", requirements: { minQuality: 101 } }, /minQuality/, "BAD_USER_INPUT"],
      [{ model: "openai/gpt-4o-mini", fallbackModels: ["openai/dall-e-3"] }, /fallbackModels\[0\]|is IMAGE, not TEXT/, "BAD_USER_INPUT"],
      [{ model: "openai/gpt-4o", maxCostUsd: 0.0000001 }, /No route fits maxCostUsd/, "BAD_USER_INPUT"],
      [{ model: "video", modality: "TEXT" }, /alias video has no usable TEXT model/, "BAD_USER_INPUT"],
    ];
    for (const [input, message, code] of cases) {
      const res = await create({ wait: 0, ...input });
      expect(res.errors?.[0]?.extensions?.code, JSON.stringify(input)).toBe(code);
      expect(res.errors![0].message, JSON.stringify(input)).toMatch(message);
    }
  });

  it("models lists only what the viewer can use now; providers shows configured ones", async () => {
    const res = await t.gql(freeUser.key, `{ models(modality: TEXT) { id quality } providers { id configured kind keys { label } } }`);
    expect(res.errors).toBeUndefined();
    const ids = res.data!.models.map((m: any) => m.id);
    expect(ids).toContain("openai/gpt-4o-mini");
    expect(ids).toContain("anthropic/claude-haiku-4-5");
    expect(ids).not.toContain("groq/llama-3.1-8b-instant");
    const providers = res.data!.providers;
    expect(providers.map((p: any) => p.id).sort()).toEqual(["anthropic", "openai", "simulated"]);
    expect(providers.find((p: any) => p.id === "anthropic")).toMatchObject({ configured: true, kind: "anthropic", keys: null });
    const all = await t.gql(t.adminKey, `{ providers(all: true) { id configured keys { label last4 source } } }`);
    const groq = all.data!.providers.find((p: any) => p.id === "groq");
    expect(groq.configured).toBe(false);
    expect(all.data!.providers.find((p: any) => p.id === "openai").keys).toEqual([{ label: "env-1", last4: "1234", source: "ENV" }]);
    expect((await t.gql(freeUser.key, `{ providers(all: true) { id } }`)).errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
  });
});
