/**
 * The `openai-compatible` adapter's wire body against the fake OpenAI server: vendor headers,
 * vision parts, tools, JSON mode, sampling options, per-call keys, keyless local servers,
 * embedding micro-batches, streamed tool calls and image URLs.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { AdapterSettings } from "../../src/providers/adapter-settings";
import { ProviderError, type GenerationRequest, type GenerationResult, type ProviderCall } from "../../src/providers/contract";
import { OpenAICompatibleProvider } from "../../src/providers/openai-compatible/openai-compatible.provider";
import { openSse, startFakeServer, type FakeProviderServer } from "../fakes/fake-server";
import { fakeEmbedding, startOpenAIFake } from "../fakes/openai.fake";

type Json = Record<string, any>;

function call(over: Partial<ProviderCall> = {}): ProviderCall & { deltas: string[] } {
  const deltas: string[] = [];
  return {
    apiKey: "sk-key-aaaaaaaaaaaa",
    signal: AbortSignal.timeout(5_000),
    timeoutMs: 5_000,
    attempt: 1,
    onDelta: (d) => deltas.push(d),
    onProgress: () => undefined,
    deltas,
    ...over,
  };
}

const text = (over: Partial<GenerationRequest> = {}): GenerationRequest => ({ modality: "TEXT", model: "gpt-4o-mini", prompt: "hello there", params: {}, ...over });
const embed = (prompt: string): GenerationRequest => ({ modality: "EMBEDDING", model: "text-embedding-3-small", prompt, params: {} });

describe("openai-compatible adapter (wire body)", () => {
  let server: FakeProviderServer;
  const settings = (over: Partial<AdapterSettings> = {}): AdapterSettings => ({
    id: "openrouter",
    displayName: "OpenRouter (fake)",
    baseUrl: `${server.url}/v1`,
    models: [],
    requiresKey: true,
    ...over,
  });
  const lastBody = () => server.requests.at(-1)!.body as Json;

  beforeAll(async () => {
    server = await startOpenAIFake();
  });
  afterAll(() => server.close());
  beforeEach(() => {
    server.scenario = "ok";
    server.requests.length = 0;
  });

  it("sends OpenRouter's HTTP-Referer and X-Title when configured", async () => {
    const p = new OpenAICompatibleProvider(settings({ headers: { "HTTP-Referer": "https://switchboard.example", "X-Title": "Switchboard" } }));
    await p.generate(text(), call());
    const h = server.requests[0].headers;
    expect(h["http-referer"]).toBe("https://switchboard.example");
    expect(h["x-title"]).toBe("Switchboard");
    expect(server.requests[0].path).toBe("/v1/chat/completions");
  });

  it("streams: stream_options.include_usage, system + user messages, deltas join to the text", async () => {
    const p = new OpenAICompatibleProvider(settings());
    const c = call();
    const r = (await p.generate(text({ system: "be brief" }), c)) as GenerationResult;
    const b = lastBody();
    expect(b.stream).toBe(true);
    expect(b.stream_options).toEqual({ include_usage: true });
    expect(b.messages).toEqual([
      { role: "system", content: "be brief" },
      { role: "user", content: "hello there" },
    ]);
    expect(c.deltas.length).toBeGreaterThan(1);
    expect(c.deltas.join("")).toBe(r.text);
    expect(r.finishReason).toBe("stop");
    expect(r.usage.inputTokens).toBeGreaterThan(0);
  });

  it("maps vision image parts to OpenAI content parts", async () => {
    const p = new OpenAICompatibleProvider(settings());
    await p.generate(
      text({
        prompt: undefined,
        messages: [
          { role: "assistant", content: [{ type: "text", text: "Send me a picture." }] },
          { role: "user", content: [{ type: "text", text: "What is in this image?" }, { type: "image_url", url: "https://img.example/cat.png" }] },
        ],
      }),
      call(),
    );
    expect(lastBody().messages).toEqual([
      { role: "assistant", content: "Send me a picture." },
      {
        role: "user",
        content: [
          { type: "text", text: "What is in this image?" },
          { type: "image_url", image_url: { url: "https://img.example/cat.png" } },
        ],
      },
    ]);
  });

  it("passes tools and response_format json_object; accumulates streamed tool calls", async () => {
    const tools = [{ type: "function", function: { name: "lookup", description: "look it up", parameters: { type: "object", properties: { query: { type: "string" } } } } }];
    const p = new OpenAICompatibleProvider(settings());
    const r = (await p.generate(text({ text: { tools, responseFormat: "JSON" } }), call())) as GenerationResult;
    const b = lastBody();
    expect(b.tools).toEqual(tools);
    expect(b.response_format).toEqual({ type: "json_object" });
    expect(r.finishReason).toBe("tool_calls");
    expect(r.toolCalls).toHaveLength(1);
    const tc = r.toolCalls![0] as Json;
    expect(tc).toMatchObject({ id: "call_fake_0", type: "function", function: { name: "lookup" } });
    expect(JSON.parse(tc.function.arguments)).toHaveProperty("query");
  });

  it("sends seed, temperature and max tokens; params add vendor extras but never override model/messages/stream", async () => {
    const p = new OpenAICompatibleProvider(settings());
    await p.generate(
      text({
        seed: 42,
        text: { temperature: 0.3, maxTokens: 77 },
        params: { top_p: 0.9, provider: { order: ["groq"] }, model: "evil", messages: [], stream: false, stream_options: null },
      }),
      call(),
    );
    const b = lastBody();
    expect(b.seed).toBe(42);
    expect(b.temperature).toBe(0.3);
    expect(b.max_tokens ?? b.max_completion_tokens).toBe(77);
    expect(b.top_p).toBe(0.9);
    expect(b.provider).toEqual({ order: ["groq"] });
    expect(b.model).toBe("gpt-4o-mini");
    expect(b.messages).toHaveLength(1);
    expect(b.stream).toBe(true);
    expect(b.stream_options).toEqual({ include_usage: true });
  });

  it("embedBatch of 3 requests makes exactly ONE upstream call and returns 3 vectors in order", async () => {
    const p = new OpenAICompatibleProvider(settings());
    const inputs = ["alpha", "a much longer second input text", "gamma"];
    const out = await p.embedBatch!(inputs.map(embed), call());
    expect(server.requests).toHaveLength(1);
    expect(lastBody().input).toEqual(inputs);
    expect(lastBody().encoding_format).toBe("float");
    expect(out).toHaveLength(3);
    out.forEach((r, i) => {
      expect(r.embedding).toHaveLength(8);
      r.embedding!.forEach((x, j) => expect(x).toBeCloseTo(fakeEmbedding(inputs[i])[j], 6));
      expect(r.usage.inputTokens).toBeGreaterThanOrEqual(1);
    });
    // The split adds up to what the server reported, the longer input getting more.
    const reported = inputs.reduce((a, t) => a + Math.max(1, Math.ceil(t.length / 4)), 0);
    expect(out.reduce((a, r) => a + r.usage.inputTokens!, 0)).toBe(reported);
    expect(out[1].usage.inputTokens!).toBeGreaterThan(out[0].usage.inputTokens!);
  });

  it("a single embedding sends a string input", async () => {
    const p = new OpenAICompatibleProvider(settings());
    const r = (await p.generate(embed("solo"), call())) as GenerationResult;
    expect(lastBody().input).toBe("solo");
    expect(r.embedding).toHaveLength(8);
  });

  it("carries the per-call key in Authorization; two different keys both work", async () => {
    const p = new OpenAICompatibleProvider(settings());
    await p.generate(text(), call({ apiKey: "sk-key-one-11111111" }));
    await p.generate(text(), call({ apiKey: "sk-key-two-22222222" }));
    await p.generate(text(), call({ apiKey: "sk-key-one-11111111" }));
    expect(server.requests.map((r) => r.headers.authorization)).toEqual([
      "Bearer sk-key-one-11111111",
      "Bearer sk-key-two-22222222",
      "Bearer sk-key-one-11111111",
    ]);
  });

  it("requiresKey:false works with no key (local servers); requiresKey:true without a key is an auth error", async () => {
    const local = new OpenAICompatibleProvider(settings({ id: "ollama", requiresKey: false }));
    expect(local.requiresKey).toBe(false);
    const r = (await local.generate(text(), call({ apiKey: undefined }))) as GenerationResult;
    expect(r.text).toBeTruthy();
    await local.healthCheck!({ signal: AbortSignal.timeout(3_000) });
    const keyed = new OpenAICompatibleProvider(settings());
    const e = await keyed.generate(text(), call({ apiKey: undefined })).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ProviderError);
    expect((e as ProviderError).kind).toBe("auth");
  });

  it("images: size, n and b64_json reach the body; params never override the format", async () => {
    const p = new OpenAICompatibleProvider(settings());
    const req: GenerationRequest = { modality: "IMAGE", model: "dall-e-2", prompt: "a red square", image: { width: 64, height: 32, count: 1 }, params: { quality: "hd", response_format: "url" } };
    const r = (await p.generate(req, call())) as GenerationResult;
    expect(lastBody()).toMatchObject({ model: "dall-e-2", prompt: "a red square", n: 1, size: "64x32", response_format: "b64_json", quality: "hd" });
    expect(r.media![0]).toMatchObject({ mimeType: "image/png", width: 64, height: 32 });
  });

  it("gpt-image-* models get no response_format (they reject it)", async () => {
    const p = new OpenAICompatibleProvider(settings());
    const r = (await p.generate({ modality: "IMAGE", model: "gpt-image-1", prompt: "x", image: { width: 16, height: 16, count: 1 }, params: {} }, call())) as GenerationResult;
    expect(lastBody()).not.toHaveProperty("response_format");
    expect(r.media).toHaveLength(1);
  });

  it("images answered only by URL are downloaded", async () => {
    const p = new OpenAICompatibleProvider(settings());
    const r = (await p.generate({ modality: "IMAGE", model: "flux-url-only", prompt: "x", image: { width: 20, height: 10, count: 2 }, params: {} }, call())) as GenerationResult;
    expect(server.requests.map((q) => q.path.split("?")[0])).toEqual(["/v1/images/generations", "/v1/files/image-0.png", "/v1/files/image-1.png"]);
    // The CDN download does not carry the API key.
    expect(server.requests[1].headers.authorization).toBeUndefined();
    expect(r.media).toHaveLength(2);
    expect(r.media![1]).toMatchObject({ mimeType: "image/png", width: 20, height: 10 });
    expect(r.usage.images).toBe(2);
  });

  it("other modalities are invalid_request naming the modality", async () => {
    const p = new OpenAICompatibleProvider(settings());
    const e = await p.generate({ modality: "VIDEO", model: "x", prompt: "y", params: {} }, call()).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ProviderError);
    expect((e as ProviderError).kind).toBe("invalid_request");
    expect((e as ProviderError).message).toContain("VIDEO");
    expect(server.requests).toHaveLength(0);
  });

  it("an abort mid-stream rejects (cancelled), never resolves", async () => {
    server.scenario = "slow";
    const p = new OpenAICompatibleProvider(settings());
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    const e = await p.generate(text(), call({ signal: ac.signal })).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ProviderError);
    expect((e as ProviderError).kind).toBe("cancelled");
  });

  it("an abort after the first delta rejects as cancelled (the SDK ends an aborted stream quietly)", async () => {
    const p = new OpenAICompatibleProvider(settings());
    const ac = new AbortController();
    const c = call({ signal: ac.signal, onDelta: () => ac.abort() });
    const e = await p.generate(text(), c).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ProviderError);
    expect((e as ProviderError).kind).toBe("cancelled");
  });

  it("the SDK's own per-attempt timeout (timeoutMs) is kind timeout", async () => {
    server.scenario = "slow";
    const p = new OpenAICompatibleProvider(settings());
    const t0 = Date.now();
    const e = await p.generate(text(), call({ timeoutMs: 200 })).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ProviderError);
    expect((e as ProviderError).kind).toBe("timeout");
    expect((e as ProviderError).retryable).toBe(true);
    expect(Date.now() - t0).toBeLessThan(2_000);
  });

  it("the cut stream is partial and names no key", async () => {
    server.scenario = "cut";
    const p = new OpenAICompatibleProvider(settings());
    const c = call({ apiKey: "sk-secret-cut-9999999999" });
    const e = (await p.generate(text(), c).catch((x: unknown) => x)) as ProviderError;
    expect(e).toBeInstanceOf(ProviderError);
    expect(e).toMatchObject({ partial: true, retryable: true, kind: "bad_response" });
    expect(e.message).not.toContain("sk-secret");
    expect(c.deltas).toHaveLength(2);
  });
});

describe("openai-compatible adapter (odd streams)", () => {
  let server: FakeProviderServer;
  let mode: "error-event" | "no-finish" | "no-usage" = "no-usage";
  const chunk = (delta: Json, finish: string | null = null) => ({ id: "c1", object: "chat.completion.chunk", created: 1, model: "m", choices: [{ index: 0, delta, finish_reason: finish }] });
  beforeAll(async () => {
    server = await startFakeServer((_req, res) => {
      const sse = openSse(res);
      sse.send(chunk({ role: "assistant", content: "" }));
      sse.send(chunk({ content: "Hello " }));
      sse.send(chunk({ content: "world, this is eight words long." }));
      if (mode === "error-event") sse.send({ error: { code: 502, message: "upstream provider died" } });
      else if (mode === "no-usage") sse.send(chunk({}, "length"));
      sse.send("[DONE]");
      sse.end();
    });
  });
  afterAll(() => server.close());
  const provider = () => new OpenAICompatibleProvider({ id: "together", displayName: "Together", baseUrl: `${server.url}/v1`, models: [], requiresKey: true });

  it("no usage chunk: tokens are estimated", async () => {
    mode = "no-usage";
    const r = (await provider().generate(text({ prompt: "x".repeat(40) }), call())) as GenerationResult;
    expect(r).toMatchObject({ text: "Hello world, this is eight words long.", finishReason: "length", usage: { inputTokens: 10, outputTokens: 10 } });
  });

  it("an error event mid-stream is a partial ProviderError with the event's status", async () => {
    mode = "error-event";
    const e = (await provider().generate(text(), call()).catch((x: unknown) => x)) as ProviderError;
    expect(e).toBeInstanceOf(ProviderError);
    expect(e).toMatchObject({ kind: "unavailable", status: 502, retryable: true, partial: true });
    expect(e.message).toContain("upstream provider died");
  });

  it("a stream that ends without finish_reason after deltas is partial, never success", async () => {
    mode = "no-finish";
    const c = call();
    const e = (await provider().generate(text(), c).catch((x: unknown) => x)) as ProviderError;
    expect(e).toBeInstanceOf(ProviderError);
    expect(e).toMatchObject({ kind: "bad_response", retryable: true, partial: true });
    expect(c.deltas.length).toBe(2);
  });
});
