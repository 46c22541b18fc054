/**
 * The OpenAI door beyond chat, through the official `openai` client pointed at a test server:
 * POST /v1/embeddings (float, base64 and the SDK's own default decode to the same vector; a
 * request's inputs are generations of source OPENAI), POST /v1/images/generations (b64_json
 * bytes, and a signed URL that serves them), GET /v1/models and /v1/models/{id} (what this
 * key may use), and errors in OpenAI's shape: 401, 400 with `param`, 403 for a model the
 * key's tier may not use, 404 model_not_found.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import OpenAI from "openai";
import { PNG } from "pngjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fakeEmbedding, startOpenAIFake, type OpenAIFake } from "../fakes/openai.fake";
import { estimate, quota, setQuota } from "../helpers/quota";
import { startTestApp, type TestApp } from "../helpers/test-app";

const GEN = `query($id: ID!) { generation(id: $id) { id status modality source requestId prompt } }`;

describe("OpenAI-compatible embeddings, images and models", () => {
  let t: TestApp;
  let fake: OpenAIFake;
  let dir: string;
  let admin: OpenAI;
  let free: OpenAI;

  const client = (apiKey: string) => new OpenAI({ apiKey, baseURL: `http://127.0.0.1:${t.port}/v1`, maxRetries: 0 });

  beforeAll(async () => {
    fake = await startOpenAIFake();
    dir = mkdtempSync(path.join(tmpdir(), "sb-openai-rest-"));
    const file = path.join(dir, "providers.json");
    // The free tier may use the simulated text and image models only (and the fake's image model).
    writeFileSync(file, JSON.stringify({ tiers: { free: ["simulated/text", "simulated/image"] } }));
    t = await startTestApp({ providers: { file, vendors: { openai: { baseUrl: `${fake.url}/v1`, keys: [{ label: "env-1", key: "sk-test-openai-1234" }] } } } });
    admin = client(t.adminKey);
    free = client((await t.createUser("free-rest@example.com", { tier: "free" })).key);
  });
  afterAll(async () => {
    await t?.close();
    await fake?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  describe("POST /v1/embeddings", () => {
    it("float, base64 and the SDK's default (base64 it decodes) are the same vector; headers name the generation", async () => {
      const input = "The quick brown fox";
      const { data: float, response } = await admin.embeddings.create({ model: "simulated/embedding", input, encoding_format: "float" }).withResponse();
      expect(float).toMatchObject({ object: "list", model: "simulated/embedding", data: [{ object: "embedding", index: 0 }] });
      expect(float.data[0].embedding).toHaveLength(256);
      expect(float.usage.prompt_tokens).toBeGreaterThan(0);
      expect(float.usage.total_tokens).toBe(float.usage.prompt_tokens);

      const b64 = await admin.embeddings.create({ model: "simulated/embedding", input, encoding_format: "base64" });
      const bytes = Buffer.from(b64.data[0].embedding as unknown as string, "base64");
      expect(Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4))).toEqual(float.data[0].embedding);
      const byDefault = await admin.embeddings.create({ model: "simulated/embedding", input });
      expect(byDefault.data[0].embedding).toEqual(float.data[0].embedding);

      const id = response.headers.get("x-switchboard-generation-id")!;
      expect(response.headers.get("x-switchboard-provider")).toBe("simulated");
      expect(response.headers.get("x-switchboard-model")).toBe("simulated/embedding");
      expect(response.headers.get("x-switchboard-attempts")).toBe("1");
      const gen = (await t.gql(t.adminKey, GEN, { id })).data!.generation;
      expect(gen).toMatchObject({ status: "SUCCEEDED", modality: "EMBEDDING", source: "OPENAI", prompt: input });
      expect(gen.requestId).toBeTruthy();
    });

    it("an array of inputs is one generation each, answered in input order; dimensions reach the provider", async () => {
      const inputs = ["alpha", "beta", "gamma"];
      const before = fake.requests.length;
      const { data, response } = await admin.embeddings
        .create({ model: "openai/text-embedding-3-small", input: inputs, dimensions: 8, encoding_format: "float" })
        .withResponse();
      expect(data.data.map((d) => d.index)).toEqual([0, 1, 2]);
      data.data.forEach((d, i) => expect(d.embedding).toEqual(fakeEmbedding(inputs[i])));
      const ids = response.headers.get("x-switchboard-generation-id")!.split(",");
      expect(new Set(ids).size).toBe(3);
      const prompts = await Promise.all(ids.map(async (id) => (await t.gql(t.adminKey, GEN, { id })).data!.generation));
      expect(prompts.map((g) => [g.prompt, g.source])).toEqual(inputs.map((p) => [p, "OPENAI"]));
      const upstream = fake.requests.slice(before).filter((r) => r.path === "/v1/embeddings");
      const sent = upstream.flatMap((r) => [(r.body as { input: string | string[] }).input].flat());
      expect(sent.sort()).toEqual([...inputs].sort()); // each input went upstream once (batched as the batcher saw fit)
      for (const r of upstream) expect(r.body).toMatchObject({ model: "text-embedding-3-small", dimensions: 8 });
    });
  });

  describe("POST /v1/embeddings: a list of inputs is all-or-nothing", () => {
    const LIST = `query { generations(first: 50) { edges { node { id status costUsd } } } }`;
    const model = "openai/text-embedding-3-small";
    const inputsOf = (tag: string, n: number) => Array.from({ length: n }, (_, i) => `${tag}-${i}`.padEnd(24, "x"));
    const listOf = async (key: string) =>
      ((await t.gql(key, LIST)).data!.generations.edges as { node: { id: string; status: string; costUsd: number | null } }[]).map((e) => e.node);
    /** A fresh user whose budget holds `fits` inputs' reservations (and not one more). */
    const userFitting = async (fits: number) => {
      const u = await t.createUser(undefined, { tier: "enterprise" });
      const one = await estimate(t, u.key, { modality: "EMBEDDING", model, prompt: inputsOf("probe", 1)[0] });
      await setQuota(t, u.id, one * fits + Math.floor(one / 2));
      return u;
    };

    it("a budget that fits 2 of 3 inputs: 429 insufficient_quota, and no generation created, nothing reserved or spent, nothing sent upstream", async () => {
      const u = await userFitting(2);
      const before = fake.requests.filter((r) => r.path === "/v1/embeddings").length;
      const err = await client(u.key).embeddings.create({ model, input: inputsOf("three", 3) }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.APIError);
      expect(err).toMatchObject({ status: 429, code: "insufficient_quota" });
      expect(await listOf(u.key)).toEqual([]);
      expect(await quota(t, u.key)).toMatchObject({ spentUsd: 0, reservedUsd: 0 });
      expect(fake.requests.filter((r) => r.path === "/v1/embeddings").length).toBe(before);
      // Two inputs fit: answered, and charged.
      const ok = await client(u.key).embeddings.create({ model, input: inputsOf("two", 2) });
      expect(ok.data).toHaveLength(2);
      expect((await quota(t, u.key)).spentUsd).toBeGreaterThan(0);
    });

    it("a burst of 3-input requests racing for a budget of 4 inputs: each is answered whole or refused with nothing of it charged", async () => {
      const u = await userFitting(4);
      const c = client(u.key);
      const results = await Promise.all(Array.from({ length: 4 }, (_, i) => c.embeddings.create({ model, input: inputsOf(`burst${i}`, 3) }).then((res) => res, (e: unknown) => e)));
      const answered = results.filter((x) => !(x instanceof Error)) as OpenAI.CreateEmbeddingResponse[];
      for (const x of results) if (x instanceof Error) expect(x).toMatchObject({ status: 429, code: "insufficient_quota" });
      expect(answered.length).toBeLessThanOrEqual(1);
      for (const a of answered) expect(a.data).toHaveLength(3);
      const gens = await listOf(u.key);
      // Every generation of a refused request was cancelled; the answered one's three succeeded.
      expect(gens.filter((g) => g.status === "SUCCEEDED")).toHaveLength(3 * answered.length);
      expect(gens.every((g) => g.status === "SUCCEEDED" || g.status === "CANCELLED")).toBe(true);
      const q = await quota(t, u.key);
      expect(q.reservedUsd).toBe(0);
      const charged = gens.filter((g) => g.status === "SUCCEEDED").reduce((sum, g) => sum + (g.costUsd ?? 0), 0);
      expect(q.spentUsd).toBeCloseTo(charged, 9);
      for (const g of gens.filter((x) => x.status === "CANCELLED")) expect(g.costUsd ?? 0).toBe(0);
    });
  });

  describe("POST /v1/images/generations", () => {
    it("b64_json carries the PNG; url is a signed /files URL that serves it without a key", async () => {
      const { data: b64, response } = await admin.images
        .generate({ model: "simulated/image", prompt: "a tiny gradient", size: "64x48" as never, response_format: "b64_json" })
        .withResponse();
      expect(b64.created).toBeGreaterThan(1_600_000_000);
      const png = PNG.sync.read(Buffer.from(b64.data![0].b64_json!, "base64"));
      expect([png.width, png.height]).toEqual([64, 48]);
      const gen = (await t.gql(t.adminKey, GEN, { id: response.headers.get("x-switchboard-generation-id") })).data!.generation;
      expect(gen).toMatchObject({ modality: "IMAGE", source: "OPENAI" });

      const byUrl = await admin.images.generate({ model: "simulated/image", prompt: "two gradients", n: 2, size: "32x32" as never, response_format: "url" });
      expect(byUrl.data).toHaveLength(2);
      for (const d of byUrl.data!) {
        expect(d.url).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${t.port}/files/.+\\?exp=\\d+&sig=`));
        const res = await fetch(d.url!); // as an <img src> would: no Authorization header
        expect(res.status).toBe(200);
        expect(res.headers.get("content-type")).toBe("image/png");
        const img = PNG.sync.read(Buffer.from(await res.arrayBuffer()));
        expect([img.width, img.height]).toEqual([32, 32]);
      }
    });

    it("quality and style are passed through to the provider", async () => {
      const before = fake.requests.length;
      const res = await admin.images.generate({ model: "openai/dall-e-3", prompt: "a lighthouse", size: "1024x1024", quality: "hd", style: "vivid", response_format: "b64_json" });
      expect(res.data![0].b64_json).toBeTruthy();
      const sent = fake.requests.slice(before).find((r) => r.path === "/v1/images/generations");
      expect(sent?.body).toMatchObject({ model: "dall-e-3", prompt: "a lighthouse", quality: "hd", style: "vivid", size: "1024x1024", n: 1 });
    });
  });

  describe("GET /v1/models", () => {
    it("lists what this key may use, aliases and auto, with switchboard's fields; retrieves one by id", async () => {
      const list = await admin.models.list();
      const byId = new Map(list.data.map((m) => [m.id, m as OpenAI.Models.Model & { switchboard: Record<string, unknown> }]));
      expect(byId.get("simulated/embedding")).toMatchObject({
        object: "model", owned_by: "simulated",
        switchboard: { kind: "model", modality: "EMBEDDING", provider: "simulated", pricing: { inputPer1kTokensUsd: 0.00001 } },
      });
      expect(byId.has("openai/text-embedding-3-small")).toBe(true); // configured: it has a key
      expect(byId.has("groq/llama-3.1-8b-instant")).toBe(false); // no GROQ_API_KEY: not usable
      expect(byId.get("auto")).toMatchObject({ owned_by: "switchboard", switchboard: { kind: "auto" } });
      const alias = [...byId.values()].find((m) => m.switchboard.kind === "alias");
      expect(alias?.switchboard.aliasOf).toEqual(expect.arrayContaining([expect.stringMatching(/\//)]));

      const one = await admin.models.retrieve("simulated/text"); // the SDK sends simulated%2Ftext
      expect(one).toMatchObject({ id: "simulated/text", object: "model", owned_by: "simulated", switchboard: { modality: "TEXT" } });
      expect(one.created).toBe(byId.get("simulated/text")!.created);
    });

    it("a restricted tier sees only its models; another id is 404 model_not_found", async () => {
      const ids = (await free.models.list()).data.map((m) => m.id);
      expect(ids).toEqual(expect.arrayContaining(["simulated/text", "simulated/image", "auto"]));
      expect(ids).not.toContain("simulated/embedding");
      expect(ids.filter((id) => id.includes("/")).sort()).toEqual(["simulated/image", "simulated/text"]);
      const err = await free.models.retrieve("simulated/embedding").catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.NotFoundError);
      expect(err).toMatchObject({ status: 404, code: "model_not_found", param: "model", type: "invalid_request_error" });
    });
  });

  describe("errors in OpenAI's shape", () => {
    it("401 for a bad key", async () => {
      const err = await client("sb_not_a_real_key").embeddings.create({ model: "simulated/embedding", input: "x" }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.AuthenticationError);
      expect(err).toMatchObject({ status: 401, type: "authentication_error", code: "invalid_api_key" });
      const models = await client("sb_not_a_real_key").models.list().catch((e: unknown) => e);
      expect(models).toMatchObject({ status: 401 });
    });

    it("400 naming the param", async () => {
      const cases: [() => Promise<unknown>, string, RegExp][] = [
        [() => admin.embeddings.create({ model: "simulated/embedding", input: [] }), "input", /non-empty array/],
        [() => admin.embeddings.create({ model: "simulated/embedding", input: [[1, 2, 3]] }), "input", /token arrays are not supported/],
        [() => admin.embeddings.create({ model: "simulated/embedding", input: "x", encoding_format: "int8" as never }), "encoding_format", /float/],
        [() => admin.embeddings.create({ model: "simulated/text", input: "x" }), "model", /is TEXT, not EMBEDDING/],
        [() => admin.images.generate({ model: "simulated/image", prompt: "x", size: "huge" as never }), "size", /width/],
        [() => admin.images.generate({ model: "simulated/image", prompt: "x", n: 11 }), "n", /1 to 10/],
      ];
      for (const [call, param, message] of cases) {
        const err = await call().catch((e: unknown) => e);
        expect(err, param).toBeInstanceOf(OpenAI.BadRequestError);
        expect(err).toMatchObject({ status: 400, param, type: "invalid_request_error" });
        expect((err as Error).message).toMatch(message);
      }
    });

    it("403 for a model the key's tier may not use", async () => {
      const err = await free.embeddings.create({ model: "simulated/embedding", input: "x" }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.PermissionDeniedError);
      expect(err).toMatchObject({ status: 403, type: "permission_error", code: "model_not_allowed" });
      expect((err as Error).message).toMatch(/your tier \(free\) may not use simulated\/embedding/);
      const ok = await free.images.generate({ model: "simulated/image", prompt: "allowed", size: "16x16" as never, response_format: "b64_json" });
      expect(ok.data).toHaveLength(1);
    });
  });
});
