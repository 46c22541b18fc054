/**
 * POST /v1/messages through the official `@anthropic-ai/sdk`, pointed at a test server as a user
 * points it at Switchboard (baseURL = the server's root; the SDK appends /v1/messages). The
 * simulated provider and a wire-faithful Anthropic fake serve the generations.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAnthropicFake, ANTHROPIC_FAKE_TEXT, type AnthropicFake } from "../fakes/anthropic.fake";
import { startOpenAIFake, type OpenAIFake } from "../fakes/openai.fake";
import { setQuota } from "../helpers/quota";
import { startTestApp, type TestApp } from "../helpers/test-app";

const GEN = `query($id: ID!) { generation(id: $id) { id status source model output { text usage { inputTokens outputTokens } } provider { id } } }`;
const WEATHER = { name: "get_weather", description: "The weather in a city", input_schema: { type: "object" as const, properties: { city: { type: "string" } }, required: ["city"] } };

describe("POST /v1/messages (Anthropic Messages API)", () => {
  let t: TestApp;
  let fake: AnthropicFake;
  let openaiFake: OpenAIFake;
  let root: string;
  let key: string;
  let dir: string;
  const client = (apiKey = key, opts: Record<string, unknown> = {}) => new Anthropic({ baseURL: root, apiKey, maxRetries: 0, ...opts });
  const generation = async (id: string) => (await t.gql(t.adminKey, GEN, { id })).data!.generation;

  beforeAll(async () => {
    fake = await startAnthropicFake();
    openaiFake = await startOpenAIFake();
    dir = mkdtempSync(path.join(tmpdir(), "sb-anthropic-messages-"));
    const file = path.join(dir, "providers.json");
    writeFileSync(file, JSON.stringify({ tiers: { free: ["simulated/text"] } }));
    t = await startTestApp({
      rateLimits: { free: { perMinute: 2, perHour: 100 } },
      providers: {
        file,
        vendors: {
          anthropic: { baseUrl: fake.url, keys: [{ label: "env-1", key: "sk-ant-test-5678" }] },
          openai: { baseUrl: `${openaiFake.url}/v1`, keys: [{ label: "env-1", key: "sk-test-openai-1234" }] },
        },
      },
    });
    root = `http://127.0.0.1:${t.port}`;
    key = (await t.createUser(undefined, { tier: "enterprise" })).key;
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await fake?.close();
    await openaiFake?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("non-streaming: a Message (msg_<generation id>) whose text is the generation's output; source ANTHROPIC; x-switchboard-* headers", async () => {
    const { data: msg, response } = await client()
      .messages.create({ model: "simulated/text", max_tokens: 64, system: "Be brief.", messages: [{ role: "user", content: "Hello there" }] })
      .withResponse();
    expect(msg).toMatchObject({ type: "message", role: "assistant", model: "simulated/text", stop_reason: "end_turn", stop_sequence: null });
    expect(msg.id).toMatch(/^msg_/);
    const id = msg.id.slice("msg_".length);
    expect(response.headers.get("x-switchboard-generation-id")).toBe(id);
    expect(response.headers.get("x-switchboard-provider")).toBe("simulated");
    expect(response.headers.get("x-switchboard-model")).toBe("simulated/text");
    expect(response.headers.get("x-switchboard-cache")).toBe("MISS");
    expect(response.headers.get("x-switchboard-attempts")).toBe("1");
    expect(Number(response.headers.get("x-switchboard-cost-usd"))).toBeGreaterThan(0);
    const g = await generation(id);
    expect(g).toMatchObject({ status: "SUCCEEDED", source: "ANTHROPIC", model: "simulated/text" });
    expect(msg.content).toEqual([{ type: "text", text: g.output.text }]);
    expect(msg.usage).toMatchObject({ input_tokens: g.output.usage.inputTokens, output_tokens: g.output.usage.outputTokens });
    expect(msg.usage.output_tokens).toBeGreaterThan(0);
  });

  it("streaming: messages.stream() text and finalMessage() equal the generation's output, events in Anthropic's order", async () => {
    const s = client().messages.stream({ model: "simulated/text", max_tokens: 64, messages: [{ role: "user", content: [{ type: "text", text: "Stream me a story" }] }] });
    const types: string[] = [];
    let streamed = "";
    s.on("streamEvent", (e) => void types.push(e.type));
    s.on("text", (d) => void (streamed += d));
    const final = await s.finalMessage();
    const g = await generation(final.id.slice("msg_".length));
    expect(g).toMatchObject({ status: "SUCCEEDED", source: "ANTHROPIC" });
    expect(streamed).toBe(g.output.text);
    expect(final.content).toEqual([{ type: "text", text: g.output.text }]);
    expect(final).toMatchObject({ stop_reason: "end_turn", usage: { input_tokens: g.output.usage.inputTokens, output_tokens: g.output.usage.outputTokens } });
    expect(types.slice(0, 2)).toEqual(["message_start", "content_block_start"]);
    expect(types.slice(-3)).toEqual(["content_block_stop", "message_delta", "message_stop"]);
    expect(types).toContain("content_block_delta"); // the runner coalesces deltas of one tick: with no simulated latency, maybe one
  });

  it("streaming on the wire: event names, a ping after the block starts, text/event-stream", async () => {
    const res = await fetch(`${root}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": key, "anthropic-version": "2023-06-01" },
      body: JSON.stringify({ model: "simulated/text", max_tokens: 32, stream: true, messages: [{ role: "user", content: "Hi" }] }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    expect(res.headers.get("x-switchboard-generation-id")).toBeTruthy();
    const names = [...(await res.text()).matchAll(/^event: (.+)$/gm)].map((m) => m[1]);
    expect(names.slice(0, 3)).toEqual(["message_start", "content_block_start", "ping"]);
    expect(names.slice(-3)).toEqual(["content_block_stop", "message_delta", "message_stop"]);
    expect(new Set(names.slice(3, -3))).toEqual(new Set(["content_block_delta"]));
  });

  it("a tool definition reaches the upstream, and its tool_use comes back (non-streaming and streaming)", async () => {
    const before = fake.requests.length;
    const msg = await client().messages.create({
      model: "anthropic/claude-haiku-4-5", max_tokens: 128, tools: [WEATHER], tool_choice: { type: "auto" },
      messages: [{ role: "user", content: "Weather in Paris?" }],
    });
    const sent = fake.requests.slice(before).find((r) => r.path.startsWith("/v1/messages"))!.body as Record<string, any>;
    expect(sent.tools).toEqual([WEATHER]);
    expect(sent.tool_choice).toEqual({ type: "auto" });
    expect(msg.stop_reason).toBe("tool_use");
    expect(msg.content).toEqual([
      { type: "text", text: ANTHROPIC_FAKE_TEXT },
      { type: "tool_use", id: "toolu_fake_01", name: "get_weather", input: { city: "Paris", unit: "celsius" } },
    ]);
    expect((await generation(msg.id.slice(4))).provider.id).toBe("anthropic");

    const final = await client().messages.stream({ model: "anthropic/claude-haiku-4-5", max_tokens: 128, tools: [WEATHER], messages: [{ role: "user", content: "And in Oslo?" }] }).finalMessage();
    expect(final.stop_reason).toBe("tool_use");
    expect(final.content).toEqual(msg.content);
  });

  it("served by an OpenAI upstream: stop_sequences and tool_choice arrive under OpenAI's names and shapes (stop, tool_choice, parallel_tool_calls)", async () => {
    const before = openaiFake.requests.length;
    const msg = await client().messages.create({
      model: "openai/gpt-4o-mini", max_tokens: 128, tools: [WEATHER], stop_sequences: ["\n\nHuman:"],
      tool_choice: { type: "tool", name: "get_weather", disable_parallel_tool_use: true },
      messages: [{ role: "user", content: "Weather in Paris?" }],
    });
    const sent = openaiFake.requests.slice(before).find((r) => r.path.startsWith("/v1/chat/completions"))!.body as Record<string, any>;
    expect(sent.stop).toEqual(["\n\nHuman:"]);
    expect(sent.tool_choice).toEqual({ type: "function", function: { name: "get_weather" } });
    expect(sent.parallel_tool_calls).toBe(false);
    expect(sent.tools).toEqual([{ type: "function", function: { name: WEATHER.name, description: WEATHER.description, parameters: WEATHER.input_schema } }]);
    expect(sent).not.toHaveProperty("stop_sequences");
    expect(msg.stop_reason).toBe("tool_use");
    expect(msg.content.find((b) => b.type === "tool_use")).toMatchObject({ type: "tool_use", name: "get_weather" });
    expect((await generation(msg.id.slice(4))).provider.id).toBe("openai");
  });

  it("a second turn with tool_use and tool_result blocks keeps their ids: tool_use/tool_result (tool_use_id, is_error) to Anthropic, tool_calls/tool_call_id to OpenAI", async () => {
    const history: Anthropic.MessageParam[] = [
      { role: "user", content: "Weather in Paris and Oslo?" },
      {
        role: "assistant",
        content: [
          { type: "text", text: "Let me look." },
          { type: "tool_use", id: "toolu_paris_1", name: "get_weather", input: { city: "Paris" } },
          { type: "tool_use", id: "toolu_oslo_2", name: "get_weather", input: { city: "Oslo" } },
        ],
      },
      {
        role: "user",
        content: [
          { type: "tool_result", tool_use_id: "toolu_paris_1", content: "sunny, 21C" },
          { type: "tool_result", tool_use_id: "toolu_oslo_2", content: [{ type: "text", text: "no data" }], is_error: true },
          { type: "text", text: "Summarise, please." },
        ],
      },
    ];
    const before = fake.requests.length;
    await client().messages.create({ model: "anthropic/claude-haiku-4-5", max_tokens: 128, tools: [WEATHER], messages: history });
    const sent = fake.requests.slice(before).find((r) => r.path.startsWith("/v1/messages"))!.body as Record<string, any>;
    expect(sent.messages).toEqual([
      { role: "user", content: [{ type: "text", text: "Weather in Paris and Oslo?" }] },
      {
        role: "assistant",
        content: [
          { type: "text", text: "Let me look." },
          { type: "tool_use", id: "toolu_paris_1", name: "get_weather", input: { city: "Paris" } },
          { type: "tool_use", id: "toolu_oslo_2", name: "get_weather", input: { city: "Oslo" } },
        ],
      },
      {
        role: "user",
        content: [
          { type: "tool_result", tool_use_id: "toolu_paris_1", content: "sunny, 21C" },
          { type: "tool_result", tool_use_id: "toolu_oslo_2", content: "no data", is_error: true },
          { type: "text", text: "Summarise, please." },
        ],
      },
    ]);

    const openaiBefore = openaiFake.requests.length;
    await client().messages.create({ model: "openai/gpt-4o-mini", max_tokens: 128, tools: [WEATHER], messages: history });
    const chat = openaiFake.requests.slice(openaiBefore).find((r) => r.path.startsWith("/v1/chat/completions"))!.body as Record<string, any>;
    expect(chat.messages).toEqual([
      { role: "user", content: "Weather in Paris and Oslo?" },
      {
        role: "assistant", content: "Let me look.",
        tool_calls: [
          { id: "toolu_paris_1", type: "function", function: { name: "get_weather", arguments: JSON.stringify({ city: "Paris" }) } },
          { id: "toolu_oslo_2", type: "function", function: { name: "get_weather", arguments: JSON.stringify({ city: "Oslo" }) } },
        ],
      },
      { role: "tool", tool_call_id: "toolu_paris_1", content: "sunny, 21C" },
      { role: "tool", tool_call_id: "toolu_oslo_2", content: "no data" },
      { role: "user", content: "Summarise, please." },
    ]);
  });

  it("a tool_result without tool_use_id is a 400 naming the field", async () => {
    const err = await client().messages.create({
      model: "anthropic/claude-haiku-4-5", max_tokens: 16,
      messages: [{ role: "user", content: [{ type: "tool_result", content: "x" } as never] }],
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    expect((err as InstanceType<typeof Anthropic.BadRequestError>).message).toContain("tool_use_id");
  });

  it("a stream broken upstream mid-answer is retried with nothing duplicated, and ends with an error event when every attempt fails", async () => {
    fake.scenario = "cut";
    try {
      const s = client().messages.stream({ model: "anthropic/claude-haiku-4-5", max_tokens: 64, messages: [{ role: "user", content: "Cut me off" }] });
      let streamed = "";
      s.on("text", (d) => void (streamed += d));
      const err = await s.finalMessage().then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(Anthropic.APIError);
      // The fake sends the same two pieces on every attempt: the client saw them once.
      const pieces = ANTHROPIC_FAKE_TEXT.match(/\S+\s*/g)!;
      expect(streamed).toBe(pieces.slice(0, 2).join(""));
    } finally {
      fake.scenario = "ok";
    }
  });

  it("a fallback after a broken stream that answers differently ends the stream with an error event (text cannot be taken back)", async () => {
    fake.scenario = "cut";
    try {
      const s = client().messages.stream(
        { model: "anthropic/claude-haiku-4-5", max_tokens: 64, messages: [{ role: "user", content: "Cut me off, then fall back" }] },
        { headers: { "x-switchboard-fallback-models": "simulated/text" } },
      );
      let streamed = "";
      s.on("text", (d) => void (streamed += d));
      const err = await s.finalMessage().then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(Anthropic.APIError);
      expect(String((err as Error).message)).toMatch(/answered differently/);
      expect(streamed).toBe(ANTHROPIC_FAKE_TEXT.match(/\S+\s*/g)!.slice(0, 2).join(""));
    } finally {
      fake.scenario = "ok";
    }
  });

  it("Bearer works as well as x-api-key; ANTHROPIC_BASE_URL without /v1 (the SDK's own environment variables)", async () => {
    const bearer = await client(undefined as never, { apiKey: null, authToken: key })
      .messages.create({ model: "simulated/text", max_tokens: 16, messages: [{ role: "user", content: "Bearer?" }] });
    expect(bearer.type).toBe("message");
    const saved = { base: process.env.ANTHROPIC_BASE_URL, key: process.env.ANTHROPIC_API_KEY };
    process.env.ANTHROPIC_BASE_URL = root;
    process.env.ANTHROPIC_API_KEY = key;
    try {
      const msg = await new Anthropic({ maxRetries: 0 }).messages.create({ model: "simulated/text", max_tokens: 16, messages: [{ role: "user", content: "From the environment" }] });
      expect(msg.content[0]).toMatchObject({ type: "text" });
    } finally {
      for (const [k, v] of [["ANTHROPIC_BASE_URL", saved.base], ["ANTHROPIC_API_KEY", saved.key]] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });

  describe("errors in Anthropic's shape", () => {
    const refusal = async (p: Promise<unknown>) => {
      const e = await p.then(() => null, (x: unknown) => x);
      expect(e).toBeInstanceOf(Anthropic.APIError);
      return e as InstanceType<typeof Anthropic.APIError> & { error: { type: string; error: { type: string; message: string } } };
    };

    it("401 authentication_error for a bad key", async () => {
      const e = await refusal(client("sb_not_a_real_key").messages.create({ model: "simulated/text", max_tokens: 16, messages: [{ role: "user", content: "x" }] }));
      expect(e).toBeInstanceOf(Anthropic.AuthenticationError);
      expect(e.status).toBe(401);
      expect(e.error).toMatchObject({ type: "error", error: { type: "authentication_error" } });
    });

    it("400 invalid_request_error when max_tokens is missing; nothing is created", async () => {
      const e = await refusal(client().messages.create({ model: "simulated/text", messages: [{ role: "user", content: "x" }] } as never));
      expect(e).toBeInstanceOf(Anthropic.BadRequestError);
      expect(e.error).toMatchObject({ type: "error", error: { type: "invalid_request_error", message: expect.stringContaining("max_tokens") } });
      const e2 = await refusal(client().messages.create({ model: "no/such-model", max_tokens: 8, messages: [{ role: "user", content: "x" }] }));
      expect(e2.status).toBe(400);
      expect(e2.error.error.type).toBe("invalid_request_error");
    });

    it("403 permission_error for a model the key's tier may not use", async () => {
      const free = await t.createUser(undefined, { tier: "free" });
      const e = await refusal(client(free.key).messages.create({ model: "anthropic/claude-haiku-4-5", max_tokens: 8, messages: [{ role: "user", content: "x" }] }));
      expect(e).toBeInstanceOf(Anthropic.PermissionDeniedError);
      expect(e.error.error.type).toBe("permission_error");
    });

    it("429 rate_limit_error with retry-after past the tier's rate limit", async () => {
      const free = await t.createUser(undefined, { tier: "free" });
      const send = () => client(free.key).messages.create({ model: "simulated/text", max_tokens: 8, messages: [{ role: "user", content: "again" }] });
      await send();
      await send();
      const e = await refusal(send());
      expect(e).toBeInstanceOf(Anthropic.RateLimitError);
      expect(e.error.error.type).toBe("rate_limit_error");
      expect(Number(e.headers?.get("retry-after"))).toBeGreaterThan(0);
    });

    it("an exhausted budget: 402 billing_error, also before a stream opens", async () => {
      const u = await t.createUser(undefined, { tier: "enterprise" });
      await setQuota(t, u.id, 1);
      const body = { model: "simulated/text", max_tokens: 64, messages: [{ role: "user" as const, content: "Too expensive" }] };
      const e = await refusal(client(u.key).messages.create(body));
      expect(e.status).toBe(402);
      expect(e.error.error.type).toBe("billing_error");
      const s = await refusal(client(u.key).messages.stream(body).finalMessage());
      expect(s.status).toBe(402);
    });

    it("404 not_found_error in Anthropic's shape under /v1/messages", async () => {
      const res = await fetch(`${root}/v1/messages/count_tokens`, { method: "POST", headers: { "x-api-key": key, "content-type": "application/json" }, body: "{}" });
      expect(res.status).toBe(404);
      expect(await res.json()).toMatchObject({ type: "error", error: { type: "not_found_error" } });
    });
  });
});
