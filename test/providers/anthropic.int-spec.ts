/**
 * The `anthropic` adapter beyond the contract suite: what goes over the wire (headers, system,
 * image parts, tools, max_tokens, no temperature) and how tool_use, mid-stream error events and
 * aborts come back. Against the fake Anthropic API (test/fakes/anthropic.fake.ts).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { JSON_INSTRUCTION } from "../../src/providers/shared/text";
import { ProviderError, type GenerationProvider, type GenerationRequest, type GenerationResult, type ProviderCall } from "../../src/providers/contract";
import { ANTHROPIC_FAKE_TEXT, startAnthropicFake, type AnthropicFake } from "../fakes/anthropic.fake";
import { ANTHROPIC_TEST_KEY, fixture } from "./fixtures/anthropic.fixture";

const PNG_1PX = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

function call(over: Partial<ProviderCall> = {}): ProviderCall & { deltas: string[] } {
  const deltas: string[] = [];
  return {
    apiKey: ANTHROPIC_TEST_KEY,
    keyLabel: "test",
    signal: AbortSignal.timeout(5_000),
    timeoutMs: 5_000,
    attempt: 1,
    onDelta: (d) => deltas.push(d),
    onProgress: () => undefined,
    deltas,
    ...over,
  };
}

const req = (over: Partial<GenerationRequest> = {}): GenerationRequest => ({ ...fixture.request(), ...over });

async function failure(p: Promise<unknown>): Promise<ProviderError> {
  const e = await p.then(() => undefined, (x: unknown) => x);
  expect(e).toBeInstanceOf(ProviderError);
  return e as ProviderError;
}

describe("anthropic adapter (wire format)", () => {
  let fake: AnthropicFake;
  let provider: GenerationProvider;
  beforeAll(async () => {
    fake = await startAnthropicFake();
    provider = fixture.createProvider(fake.url);
  });
  afterAll(() => fake.close());
  beforeEach(() => {
    fake.scenario = "ok";
    fake.midStreamError = undefined;
    fake.requests.length = 0;
  });

  const body = () => fake.requests[0].body as Record<string, unknown>;

  it("posts a streamed Messages request with the per-call key in x-api-key (and no Bearer copy)", async () => {
    await provider.generate(req(), call());
    await provider.generate(req(), call({ apiKey: "sk-ant-second-key-0001" }));
    expect(fake.requests.map((r) => `${r.method} ${r.path}`)).toEqual(["POST /v1/messages", "POST /v1/messages"]);
    const [first, second] = fake.requests;
    expect(first.headers["x-api-key"]).toBe(ANTHROPIC_TEST_KEY);
    expect(second.headers["x-api-key"]).toBe("sk-ant-second-key-0001");
    for (const r of fake.requests) {
      expect(r.headers.authorization).toBeUndefined();
      expect(r.headers["anthropic-version"]).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      // maxRetries: 0 — the SDK counts its attempts in this header.
      expect(r.headers["x-stainless-retry-count"]).toBe("0");
    }
    expect(body().stream).toBe(true);
  });

  it("sends system (request system + system messages), the prompt as the last user message, and max_tokens", async () => {
    await provider.generate(
      req({
        system: "Be brief.",
        messages: [
          { role: "system", content: [{ type: "text", text: "Answer in French." }] },
          { role: "user", content: [{ type: "text", text: "Hi" }] },
          { role: "assistant", content: [{ type: "text", text: "Bonjour" }] },
        ],
        prompt: "How are you?",
        text: { maxTokens: 77 },
      }),
      call(),
    );
    expect(body().system).toBe("Be brief.\n\nAnswer in French.");
    expect(body().max_tokens).toBe(77);
    expect(body().model).toBe("claude-haiku-4-5");
    expect(body().messages).toEqual([
      { role: "user", content: [{ type: "text", text: "Hi" }] },
      { role: "assistant", content: [{ type: "text", text: "Bonjour" }] },
      { role: "user", content: [{ type: "text", text: "How are you?" }] },
    ]);
  });

  it("max_tokens falls back to the model's maxOutputTokens, then to 1024", async () => {
    await provider.generate(req({ text: {} }), call());
    expect(body().max_tokens).toBe(64_000);
    fake.requests.length = 0;
    await provider.generate(req({ model: "claude-unknown-model", text: {} }), call());
    expect(body().max_tokens).toBe(1024);
  });

  it("never sends temperature (API version 2026-10-21 rejects it) but passes other params through", async () => {
    const r = await provider.generate(req({ text: { temperature: 0.2, maxTokens: 50 }, params: { stop_sequences: ["END"], metadata: { user_id: "u1" } } }), call());
    expect(r).toMatchObject({ text: ANTHROPIC_FAKE_TEXT });
    expect(body()).not.toHaveProperty("temperature");
    expect(body().stop_sequences).toEqual(["END"]);
    expect(body().metadata).toEqual({ user_id: "u1" });
  });

  it("a temperature forced through params gets the API's 400 as invalid_request", async () => {
    const e = await failure(provider.generate(req({ params: { temperature: 1 } }), call()));
    expect(e.kind).toBe("invalid_request");
    expect(e.message).toContain("temperature");
  });

  it("maps image parts: data: URLs to base64 sources, http(s) URLs to url sources", async () => {
    await provider.generate(
      req({
        prompt: undefined,
        messages: [
          {
            role: "user",
            content: [
              { type: "text", text: "Compare these." },
              { type: "image_url", url: `data:image/png;base64,${PNG_1PX}` },
              { type: "image_url", url: "https://example.com/cat.jpg" },
            ],
          },
        ],
      }),
      call(),
    );
    expect(body().messages).toEqual([
      {
        role: "user",
        content: [
          { type: "text", text: "Compare these." },
          { type: "image", source: { type: "base64", media_type: "image/png", data: PNG_1PX } },
          { type: "image", source: { type: "url", url: "https://example.com/cat.jpg" } },
        ],
      },
    ]);
  });

  it("refuses images it cannot send, before any request", async () => {
    const bmp = req({ messages: [{ role: "user", content: [{ type: "image_url", url: "data:image/bmp;base64,Qk0=" }] }] });
    expect((await failure(provider.generate(bmp, call()))).kind).toBe("invalid_request");
    const ftp = req({ messages: [{ role: "user", content: [{ type: "image_url", url: "ftp://example.com/a.png" }] }] });
    expect((await failure(provider.generate(ftp, call()))).kind).toBe("invalid_request");
    expect(fake.requests).toHaveLength(0);
  });

  it("adds a JSON-only instruction to the system prompt for responseFormat JSON", async () => {
    await provider.generate(req({ system: "You are terse.", text: { responseFormat: "JSON" } }), call());
    expect(body().system).toBe(`You are terse.\n\n${JSON_INSTRUCTION}`);
    expect(body()).not.toHaveProperty("response_format");
  });

  it("maps OpenAI function tools to Anthropic tools and tool_use blocks back to OpenAI tool calls", async () => {
    const parameters = { type: "object", properties: { city: { type: "string" }, unit: { type: "string" } }, required: ["city"] };
    const r = await provider.generate(
      req({ text: { tools: [{ type: "function", function: { name: "get_weather", description: "Weather for a city", parameters } }] } }),
      call(),
    );
    expect(body().tools).toEqual([{ name: "get_weather", description: "Weather for a city", input_schema: parameters }]);
    expect(r).toMatchObject({
      text: ANTHROPIC_FAKE_TEXT,
      finishReason: "tool_calls",
      toolCalls: [{ id: "toolu_fake_01", type: "function", function: { name: "get_weather", arguments: JSON.stringify({ city: "Paris", unit: "celsius" }) } }],
    });
  });

  it("rejects a tool in neither shape", async () => {
    const e = await failure(provider.generate(req({ text: { tools: [{ foo: 1 }] } }), call()));
    expect(e.kind).toBe("invalid_request");
  });

  it("reports usage from message_start and message_delta", async () => {
    const r = (await provider.generate(req(), call())) as GenerationResult;
    expect(r.usage.outputTokens).toBe(ANTHROPIC_FAKE_TEXT.match(/\S+\s*/g)!.length);
    expect(r.usage.inputTokens).toBeGreaterThan(0);
  });

  it("an overloaded_error event mid-stream is a retryable, partial unavailable", async () => {
    fake.midStreamError = "overloaded_error";
    const c = call();
    const e = await failure(provider.generate(req(), c));
    expect(c.deltas.length).toBeGreaterThan(0);
    expect(e).toMatchObject({ kind: "unavailable", retryable: true, partial: true, status: 529 });
  });

  it("a 529 before the stream is a retryable unavailable with no retry by the SDK", async () => {
    fake.scenario = "529";
    const e = await failure(provider.generate(req(), call()));
    expect(e).toMatchObject({ kind: "unavailable", retryable: true, partial: false, status: 529 });
    expect(fake.requests).toHaveLength(1);
  });

  it("429 carries Retry-After as retryAfterSeconds", async () => {
    fake.scenario = "429";
    fake.retryAfterSeconds = 13;
    const e = await failure(provider.generate(req(), call()));
    expect(e).toMatchObject({ kind: "rate_limited", retryAfterSeconds: 13 });
    fake.retryAfterSeconds = 7;
  });

  it("an abort mid-stream is cancelled, never a (short) success", async () => {
    const ac = new AbortController();
    const c = call({ signal: ac.signal });
    c.onDelta = (d) => {
      c.deltas.push(d);
      ac.abort();
    };
    const e = await failure(provider.generate(req(), c));
    expect(e.kind).toBe("cancelled");
  });

  it("generates TEXT only", async () => {
    const e = await failure(provider.generate(req({ modality: "IMAGE", image: { width: 64, height: 64, count: 1 } }), call()));
    expect(e.kind).toBe("invalid_request");
    expect(fake.requests).toHaveLength(0);
  });

  it("needs a key", async () => {
    const e = await failure(provider.generate(req(), call({ apiKey: undefined })));
    expect(e.kind).toBe("auth");
  });

  it("health check is GET /v1/models with the key", async () => {
    await provider.healthCheck!({ apiKey: ANTHROPIC_TEST_KEY, signal: AbortSignal.timeout(3_000) });
    expect(fake.requests[0].method).toBe("GET");
    expect(fake.requests[0].path).toMatch(/^\/v1\/models(\?|$)/);
    expect(fake.requests[0].headers["x-api-key"]).toBe(ANTHROPIC_TEST_KEY);
  });
});
