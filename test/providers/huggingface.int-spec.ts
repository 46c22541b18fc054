/**
 * The `huggingface` adapter beyond the contract suite: routes and bodies on the wire, the
 * per-call key, TGI token events, non-streamed text, images of the requested size, the
 * "model is loading" 503 and the SDK quirks (no 503 retry loop, status under httpResponse).
 * Against the fake Hugging Face Inference API (test/fakes/huggingface.fake.ts).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { JSON_INSTRUCTION } from "../../src/providers/shared/text";
import { HuggingFaceProvider } from "../../src/providers/huggingface/huggingface.provider";
import { ProviderError, type GenerationProvider, type GenerationRequest, type GenerationResult, type ProviderCall } from "../../src/providers/contract";
import { HF_FAKE_ESTIMATED_TIME, HF_FAKE_TEXT, startHuggingFaceFake, type HuggingFaceFake } from "../fakes/huggingface.fake";
import { createProvider, HF_IMAGE_MODEL, HF_MODELS, HF_TEST_KEY, HF_TEXT_MODEL } from "./fixtures/huggingface.fixture";

function call(over: Partial<ProviderCall> = {}): ProviderCall & { deltas: string[]; progress: number[] } {
  const deltas: string[] = [];
  const progress: number[] = [];
  return {
    apiKey: HF_TEST_KEY,
    keyLabel: "test",
    signal: AbortSignal.timeout(5_000),
    timeoutMs: 5_000,
    attempt: 1,
    onDelta: (d) => deltas.push(d),
    onProgress: (p) => progress.push(p),
    deltas,
    progress,
    ...over,
  };
}

const textReq = (over: Partial<GenerationRequest> = {}): GenerationRequest => ({ modality: "TEXT", model: HF_TEXT_MODEL, prompt: "Say hello.", params: {}, ...over });
const imageReq = (over: Partial<GenerationRequest> = {}): GenerationRequest => ({
  modality: "IMAGE",
  model: HF_IMAGE_MODEL,
  prompt: "A lighthouse at dusk",
  image: { width: 40, height: 24, count: 1 },
  params: {},
  ...over,
});

async function failure(p: Promise<unknown>): Promise<ProviderError> {
  const e = await p.then(() => undefined, (x: unknown) => x);
  expect(e).toBeInstanceOf(ProviderError);
  return e as ProviderError;
}

describe("huggingface adapter (wire format)", () => {
  let fake: HuggingFaceFake;
  let provider: GenerationProvider;
  const gen = async (r: GenerationRequest, c = call()) => (await provider.generate(r, c)) as GenerationResult;
  beforeAll(async () => {
    fake = await startHuggingFaceFake();
    provider = createProvider(fake.url);
  });
  afterAll(() => fake.close());
  beforeEach(() => {
    fake.scenario = "ok";
    fake.streamFormat = "completions";
    fake.retryAfterSeconds = 7;
    fake.requests.length = 0;
  });
  const body = (i = 0) => fake.requests[i].body as Record<string, unknown>;

  it("streams text from ${baseUrl}/models/${model}/v1/completions with the per-call key as Bearer", async () => {
    const c = call();
    const r = await gen(textReq({ text: { maxTokens: 50, temperature: 0.3 }, seed: 42 }), c);
    await gen(textReq(), call({ apiKey: "hf_otherkey0000000000" }));
    expect(fake.requests.map((x) => `${x.method} ${x.path}`)).toEqual([
      `POST /models/${HF_TEXT_MODEL}/v1/completions`,
      `POST /models/${HF_TEXT_MODEL}/v1/completions`,
    ]);
    expect(fake.requests[0].headers.authorization).toBe(`Bearer ${HF_TEST_KEY}`);
    expect(fake.requests[1].headers.authorization).toBe("Bearer hf_otherkey0000000000");
    expect(body()).toEqual({ model: HF_TEXT_MODEL, stream: true, max_tokens: 50, temperature: 0.3, seed: 42, prompt: "Say hello." });
    expect(c.deltas.length).toBeGreaterThan(1);
    expect(r).toMatchObject({ text: HF_FAKE_TEXT, finishReason: "stop" });
  });

  it("max_tokens falls back to the model's maxOutputTokens; params pass through", async () => {
    await gen(textReq({ params: { top_p: 0.9, stop: ["\n\n"], stream: true } }));
    expect(body()).toMatchObject({ max_tokens: 4096, top_p: 0.9, stop: ["\n\n"], stream: true });
  });

  it("turns system and messages into one transcript prompt, JSON instruction included", async () => {
    await gen(
      textReq({
        system: "Be brief.",
        messages: [
          { role: "user", content: [{ type: "text", text: "Hi" }] },
          { role: "assistant", content: [{ type: "text", text: "Hello!" }] },
        ],
        prompt: "Name a colour.",
        text: { responseFormat: "JSON" },
      }),
    );
    expect(body().prompt).toBe(`Be brief.\n\n${JSON_INSTRUCTION}\n\nUser: Hi\nAssistant: Hello!\nUser: Name a colour.\nAssistant:`);
  });

  it("refuses image parts and tools before any request", async () => {
    const img = textReq({ prompt: undefined, messages: [{ role: "user", content: [{ type: "image_url", url: "https://example.com/a.png" }] }] });
    expect((await failure(provider.generate(img, call()))).kind).toBe("invalid_request");
    const tools = textReq({ text: { tools: [{ type: "function", function: { name: "f", parameters: {} } }] } });
    expect((await failure(provider.generate(tools, call()))).kind).toBe("invalid_request");
    expect(fake.requests).toHaveLength(0);
  });

  it("reads TGI's native token events (special tokens left out, details for usage)", async () => {
    fake.streamFormat = "tgi";
    const c = call();
    const r = await gen(textReq(), c);
    expect(r.text).toBe(HF_FAKE_TEXT);
    expect(c.deltas.join("")).toBe(HF_FAKE_TEXT);
    expect(r.finishReason).toBe("stop");
    expect(r.usage.outputTokens).toBe(HF_FAKE_TEXT.match(/\S+\s*/g)!.length + 1);
  });

  it("params.stream false: one completion JSON, usage from the answer, the text as one delta", async () => {
    const c = call();
    const r = await gen(textReq({ params: { stream: false } }), c);
    expect(body()).not.toHaveProperty("stream");
    expect(r).toMatchObject({ text: HF_FAKE_TEXT, finishReason: "stop", usage: { outputTokens: HF_FAKE_TEXT.match(/\S+\s*/g)!.length } });
    expect(c.deltas).toEqual([HF_FAKE_TEXT]);
  });

  it("a non-streamed malformed body is a retryable bad_response", async () => {
    fake.scenario = "malformed";
    const e = await failure(provider.generate(textReq({ params: { stream: false } }), call()));
    expect(e).toMatchObject({ kind: "bad_response", retryable: true });
  });

  it("503 'model is loading' is unavailable, retryable, retryAfterSeconds = estimated_time, and not retried by the SDK", async () => {
    fake.scenario = "503";
    for (const r of [textReq(), imageReq()]) {
      fake.requests.length = 0;
      const e = await failure(provider.generate(r, call()));
      expect(e).toMatchObject({ kind: "unavailable", retryable: true, status: 503, retryAfterSeconds: Math.ceil(HF_FAKE_ESTIMATED_TIME) });
      expect(fake.requests).toHaveLength(1);
    }
  });

  it("429's Retry-After comes through for text and image", async () => {
    fake.scenario = "429";
    fake.retryAfterSeconds = 11;
    expect(await failure(provider.generate(textReq(), call()))).toMatchObject({ kind: "rate_limited", retryAfterSeconds: 11 });
    expect(await failure(provider.generate(imageReq(), call()))).toMatchObject({ kind: "rate_limited", retryAfterSeconds: 11 });
  });

  it("401 is auth for image too (status read from the SDK's httpResponse)", async () => {
    fake.scenario = "401";
    const e = await failure(provider.generate(imageReq(), call()));
    expect(e).toMatchObject({ kind: "auth", status: 401, retryable: false });
    expect(e.message).not.toContain(HF_TEST_KEY);
  });

  it("posts text-to-image to ${baseUrl}/models/${model} with width/height and returns PNGs of that size", async () => {
    const c = call();
    const r = await gen(imageReq({ image: { width: 40, height: 24, count: 2, style: "watercolor" }, seed: 7, params: { num_inference_steps: 4 } }), c);
    expect(fake.requests.map((x) => `${x.method} ${x.path}`)).toEqual([`POST /models/${HF_IMAGE_MODEL}`, `POST /models/${HF_IMAGE_MODEL}`]);
    expect(fake.requests[0].headers.authorization).toBe(`Bearer ${HF_TEST_KEY}`);
    expect(body(0)).toEqual({ inputs: "A lighthouse at dusk, watercolor style", parameters: { num_inference_steps: 4, width: 40, height: 24, seed: 7 } });
    expect((body(1).parameters as Record<string, unknown>).seed).toBe(8);
    expect(r.media).toHaveLength(2);
    for (const m of r.media!) expect(m).toMatchObject({ mimeType: "image/png", width: 40, height: 24 });
    expect(r.usage.images).toBe(2);
    expect(c.progress).toEqual([0.5, 1]);
  });

  it("image bytes that are no image are a bad_response", async () => {
    fake.scenario = "malformed";
    const e = await failure(provider.generate(imageReq(), call()));
    expect(e).toMatchObject({ kind: "bad_response", retryable: true });
  });

  it("sends the configured extra headers", async () => {
    const p = new HuggingFaceProvider({ id: "huggingface", displayName: "HF", baseUrl: `${fake.url}/`, requiresKey: true, models: HF_MODELS, headers: { "X-Extra": "yes" } });
    await p.generate(textReq(), call());
    await p.generate(imageReq(), call());
    expect(fake.requests.map((x) => x.headers["x-extra"])).toEqual(["yes", "yes"]);
    // A trailing slash on the base URL changes nothing.
    expect(fake.requests[0].path).toBe(`/models/${HF_TEXT_MODEL}/v1/completions`);
  });

  it("times out on its own (the SDK has no timeout)", async () => {
    fake.scenario = "slow";
    const t0 = Date.now();
    const e = await failure(provider.generate(textReq(), call({ timeoutMs: 200 })));
    expect(Date.now() - t0).toBeLessThan(3_000);
    expect(e).toMatchObject({ kind: "timeout", retryable: true });
  });

  it("an abort mid-stream is cancelled, never a short success", async () => {
    const ac = new AbortController();
    const c = call({ signal: ac.signal });
    c.onDelta = (d) => {
      c.deltas.push(d);
      ac.abort();
    };
    const e = await failure(provider.generate(textReq(), c));
    expect(e.kind).toBe("cancelled");
  });

  it("generates TEXT and IMAGE only; needs a key", async () => {
    expect((await failure(provider.generate(textReq({ modality: "EMBEDDING" }), call()))).kind).toBe("invalid_request");
    expect((await failure(provider.generate(textReq(), call({ apiKey: undefined })))).kind).toBe("auth");
    expect(fake.requests).toHaveLength(0);
  });

  it("health check is GET /api/whoami-v2 with the key; Hugging Face hosts go to the Hub", async () => {
    await provider.healthCheck!({ apiKey: HF_TEST_KEY, signal: AbortSignal.timeout(3_000) });
    expect(fake.requests[0]).toMatchObject({ method: "GET", path: "/api/whoami-v2" });
    expect(fake.requests[0].headers.authorization).toBe(`Bearer ${HF_TEST_KEY}`);
    const real = new HuggingFaceProvider({ id: "huggingface", displayName: "HF", baseUrl: "https://router.huggingface.co/hf-inference", requiresKey: true, models: [] }) as HuggingFaceProvider;
    expect(real.whoAmIUrl()).toBe("https://huggingface.co/api/whoami-v2");
    expect(real.modelUrl(HF_IMAGE_MODEL)).toBe(`https://router.huggingface.co/hf-inference/models/${HF_IMAGE_MODEL}`);
  });
});
