/**
 * Ollama through the gateway: the native API (list, pull with progress on a subscription,
 * delete) for admins, against a fake that speaks Ollama's NDJSON wire format; and the
 * periodic/admin health check feeding `providers { health }`.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startOllamaFake, type OllamaFake } from "../fakes/ollama.fake";
import { startOpenAIFake } from "../fakes/openai.fake";
import type { FakeProviderServer } from "../fakes/fake-server";
import { collect, startTestApp, type TestApp } from "../helpers/test-app";

describe("Ollama admin and provider health", () => {
  let t: TestApp;
  let ollama: OllamaFake;
  let openai: FakeProviderServer;
  let user: { id: string; key: string };

  beforeAll(async () => {
    [ollama, openai] = await Promise.all([startOllamaFake(), startOpenAIFake()]);
    t = await startTestApp({
      providers: {
        vendors: { ollama: { baseUrl: ollama.url, keys: [] }, openai: { baseUrl: `${openai.url}/v1`, keys: [{ label: "env-1", key: "sk-health-0001" }] } },
        healthIntervalMs: 0,
      },
    });
    user = await t.createUser("ollama-user@example.com");
  });
  afterAll(async () => {
    await t?.close();
    await Promise.all([ollama?.close(), openai?.close()]);
  });

  it("lists, pulls (progress on ollamaPullProgress) and deletes local models", async () => {
    const list = await t.gql(t.adminKey, `{ ollamaModels { name sizeBytes family parameterSize } }`);
    expect(list.errors).toBeUndefined();
    expect(list.data!.ollamaModels.map((m: any) => m.name)).toContain("llama3.2:latest");

    const sub = collect(t.wsClient(t.adminKey), `subscription { ollamaPullProgress(model: "qwen2.5:0.5b") { model status fraction done error } }`, {}, (e: any) => e.done, 15_000);
    await new Promise((r) => setTimeout(r, 200)); // graphql-ws has no subscribe ack
    const started = await t.gql(t.adminKey, `mutation { pullOllamaModel(model: "qwen2.5:0.5b") }`);
    expect(started.data!.pullOllamaModel).toBe(true);
    const events = await sub.done;
    expect(events.at(-1)).toMatchObject({ status: "success", done: true, error: null });
    const fractions = events.map((e: any) => e.fraction).filter((f: any) => f != null);
    expect(fractions.length).toBeGreaterThan(1);
    expect([...fractions].sort((a, b) => a - b)).toEqual(fractions); // never goes backwards
    expect((await t.gql(t.adminKey, `{ ollamaModels { name } }`)).data!.ollamaModels.map((m: any) => m.name)).toContain("qwen2.5:0.5b");

    const bad = collect(t.wsClient(t.adminKey), `subscription { ollamaPullProgress(model: "no-such-model") { status done error } }`, {}, (e: any) => e.done, 15_000);
    await new Promise((r) => setTimeout(r, 200));
    await t.gql(t.adminKey, `mutation { pullOllamaModel(model: "no-such-model") }`);
    expect((await bad.done).at(-1)).toMatchObject({ status: "error", done: true });
    expect((await bad.done).at(-1).error).toMatch(/file does not exist/);

    expect((await t.gql(t.adminKey, `mutation { deleteOllamaModel(model: "qwen2.5:0.5b") }`)).data!.deleteOllamaModel).toBe(true);
    expect((await t.gql(t.adminKey, `{ ollamaModels { name } }`)).data!.ollamaModels.map((m: any) => m.name)).not.toContain("qwen2.5:0.5b");
  });

  it("is admin-only and validates the model name", async () => {
    expect((await t.gql(user.key, `{ ollamaModels { name } }`)).errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    expect((await t.gql(user.key, `mutation { pullOllamaModel(model: "x") }`)).errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    expect((await t.gql(t.adminKey, `mutation { pullOllamaModel(model: "bad name; rm -rf") }`)).errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
  });

  it("health checks feed providers { health }: UP when the provider answers, DOWN with the reason when it does not", async () => {
    const up = await t.gql(t.adminKey, `mutation { checkProviderHealth(provider: "openai") { status latencyMs message } }`);
    expect(up.data!.checkProviderHealth).toMatchObject({ status: "UP", message: null });
    openai.scenario = "401";
    const down = await t.gql(t.adminKey, `mutation { checkProviderHealth(provider: "openai") { status message } }`);
    expect(down.data!.checkProviderHealth.status).toBe("DOWN");
    expect(down.data!.checkProviderHealth.message).toMatch(/401/);
    expect(down.data!.checkProviderHealth.message).not.toContain("sk-health-0001");
    openai.scenario = "ok";
    const view = await t.gql(user.key, `{ providers { id health { status checkedAt } } }`);
    expect(view.data!.providers.find((p: any) => p.id === "openai").health.status).toBe("DOWN");
    expect(view.data!.providers.find((p: any) => p.id === "simulated").health.status).toBe("UP");
    const ol = await t.gql(t.adminKey, `mutation { checkProviderHealth(provider: "ollama") { status } }`);
    expect(ol.data!.checkProviderHealth.status).toBe("UP");
  });
});
