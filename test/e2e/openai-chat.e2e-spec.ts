/**
 * POST /v1/chat/completions through the clients people use, pointed at a test server: the
 * official `openai` package (non-streaming, streaming, tools, JSON mode, every error status in
 * OpenAI's shape, a fallback mid-stream) and the Vercel AI SDK's OpenAI-compatible provider
 * (generateText, streamText). Upstreams are the simulated provider and a local fake speaking
 * OpenAI's wire format; nothing leaves the machine.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import { generateText, streamText } from "ai";
import OpenAI, { APIError } from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAnthropicFake, type AnthropicFake } from "../fakes/anthropic.fake";
import { startOpenAIFake, type OpenAIFake } from "../fakes/openai.fake";
import { setQuota } from "../helpers/quota";
import { startTestApp, type TestApp } from "../helpers/test-app";
import { EARLY_SUBSCRIBE_WAIT_MS } from "../../src/realtime/follow-generation";

const GEN = `query($id: ID!) { generation(id: $id) { id status source requestId output { text } error { code } attempts { model status } } }`;
const CREATE = `mutation($input: CreateGenerationInput!) { createGeneration(input: $input) { id status } }`;

const generationIdOf = (completionId: string) => completionId.replace(/^chatcmpl-/, "");

/** The error a call fails with (the SDK's APIError: status, headers, error body). */
async function failure(p: Promise<unknown>): Promise<APIError> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e, "the call should fail").toBeInstanceOf(APIError);
  return e as APIError;
}

describe("POST /v1/chat/completions", () => {
  let t: TestApp;
  let fake: OpenAIFake;
  let anthropicFake: AnthropicFake;
  let dir: string;
  let admin: OpenAI;
  const client = (apiKey: string) => new OpenAI({ apiKey, baseURL: `http://127.0.0.1:${t.port}/v1`, maxRetries: 0 });
  const gen = async (id: string) => {
    const res = await t.gql(t.adminKey, GEN, { id });
    expect(res.errors).toBeUndefined();
    return res.data!.generation;
  };

  beforeAll(async () => {
    fake = await startOpenAIFake();
    anthropicFake = await startAnthropicFake();
    dir = mkdtempSync(path.join(tmpdir(), "sb-openai-chat-"));
    const file = path.join(dir, "providers.json");
    writeFileSync(file, JSON.stringify({ tiers: { free: ["simulated/text"] } }));
    t = await startTestApp({
      providers: {
        file,
        vendors: {
          openai: { baseUrl: `${fake.url}/v1`, keys: [{ label: "env-1", key: "sk-test-openai-1234" }] },
          anthropic: { baseUrl: anthropicFake.url, keys: [{ label: "env-1", key: "sk-ant-test-5678" }] },
        },
      },
      rateLimits: { pro: { perMinute: 2, perHour: 0 } },
      admission: { maxQueuedPerUser: 3 },
    });
    admin = client(t.adminKey);
  }, 120_000);
  afterAll(async () => {
    await t?.close();
    await fake?.close();
    await anthropicFake?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("answers a chat.completion with usage, the switchboard headers, and a generation of source OPENAI", async () => {
    const { data, response } = await admin.chat.completions
      .create({ model: "simulated/text", messages: [{ role: "system", content: "be brief" }, { role: "user", content: "hello there" }], temperature: 0.2, max_tokens: 30, seed: 7 })
      .withResponse();
    expect(data.object).toBe("chat.completion");
    expect(data.id).toMatch(/^chatcmpl-/);
    expect(data.model).toBe("simulated/text");
    expect(data.choices).toHaveLength(1);
    expect(data.choices[0].finish_reason).toBe("stop");
    expect(data.choices[0].message.role).toBe("assistant");
    expect(data.choices[0].message.content!.length).toBeGreaterThan(0);
    expect(data.usage!.completion_tokens).toBeGreaterThan(0);
    expect(data.usage!.total_tokens).toBe(data.usage!.prompt_tokens + data.usage!.completion_tokens);
    const id = generationIdOf(data.id);
    expect(response.headers.get("x-switchboard-generation-id")).toBe(id);
    expect(response.headers.get("x-switchboard-provider")).toBe("simulated");
    expect(response.headers.get("x-switchboard-model")).toBe("simulated/text");
    expect(Number(response.headers.get("x-switchboard-cost-usd"))).toBeGreaterThan(0);
    expect(response.headers.get("x-switchboard-cache")).toBe("MISS");
    expect(response.headers.get("x-switchboard-attempts")).toBe("1");
    const g = await gen(id);
    expect(g).toMatchObject({ status: "SUCCEEDED", source: "OPENAI", output: { text: data.choices[0].message.content } });
    expect(g.requestId).toBe(response.headers.get("x-request-id"));
  });

  it("streams chat.completion.chunks whose text is the generation's output, with a usage chunk and [DONE]", async () => {
    const stream = await admin.chat.completions.create({
      model: "simulated/text", messages: [{ role: "user", content: `stream me ${Math.random()}` }], stream: true, stream_options: { include_usage: true },
      // The simulated provider's pacing knob: the answer arrives in several deltas.
      ...({ simulate: { latencyMs: 200 } } as object),
    });
    let text = "";
    let id = "";
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | undefined;
    let contentChunks = 0;
    for await (const c of stream) {
      expect(c.object).toBe("chat.completion.chunk");
      id = c.id;
      if (c.usage) usage = c.usage;
      for (const ch of c.choices) {
        if (ch.delta.content) (text += ch.delta.content), contentChunks++;
        if (ch.finish_reason) finish = ch.finish_reason;
      }
    }
    expect(finish).toBe("stop");
    expect(contentChunks).toBeGreaterThan(1);
    expect(usage!.completion_tokens).toBeGreaterThan(0);
    const g = await gen(generationIdOf(id));
    expect(g.source).toBe("OPENAI");
    expect(text).toBe(g.output.text);
  });

  it("a stream subscribes to its generation before the first event: a slow subscription holds the events back, none is missed; a cache hit (another id) is followed as before", async () => {
    const bus = t.app.services.bus;
    const subscribe = bus.subscribe.bind(bus);
    let delayed = 0;
    let delayMs = 300;
    // Redis acknowledges this server's generation subscriptions 300 ms late: without the wait, QUEUED, STARTED and the
    // deltas of an in-process run would go out before the stream listens, and it would never see its terminal event.
    bus.subscribe = (async (topic: Parameters<typeof subscribe>[0], id: string | undefined, on: Parameters<typeof subscribe>[2]) => {
      if (topic === "GENERATION_EVENT") (delayed++, await new Promise((r) => setTimeout(r, delayMs)));
      return subscribe(topic, id, on);
    }) as typeof bus.subscribe;
    const read = async (content: string) => {
      const stream = await admin.chat.completions.create({ model: "simulated/text", messages: [{ role: "user", content }], stream: true });
      let text = "";
      let id = "";
      let finish: string | null = null;
      for await (const c of stream) {
        id = c.id;
        for (const ch of c.choices) (text += ch.delta.content ?? ""), (finish = ch.finish_reason ?? finish);
      }
      return { id: generationIdOf(id), text, finish };
    };
    try {
      const prompt = `subscribe first ${Math.random()}`;
      const first = await read(prompt);
      expect(delayed).toBe(1);
      expect(first.finish).toBe("stop");
      const g = await gen(first.id);
      expect(first.text).toBe(g.output.text);
      expect(first.text.length).toBeGreaterThan(0);
      // The same request again: the exact cache answers with a new generation, which the stream follows after the fact.
      const again = await read(prompt);
      expect(again.id).not.toBe(first.id);
      expect([again.text, again.finish]).toEqual([first.text, "stop"]);
      expect((await gen(again.id)).status).toBe("SUCCEEDED");
      // Acknowledged later than the events may wait (EARLY_SUBSCRIBE_WAIT_MS): the generation goes on without it, and
      // the stream follows it the usual way (its snapshot has what it missed).
      delayMs = EARLY_SUBSCRIBE_WAIT_MS + 500;
      const slow = await read(`subscribe late ${Math.random()}`);
      expect(slow.finish).toBe("stop");
      expect(slow.text).toBe((await gen(slow.id)).output.text);
    } finally {
      bus.subscribe = subscribe;
    }
  });

  it("ends a stream with [DONE] only on success: a failure is an error event (the SDK throws)", async () => {
    const stream = await admin.chat.completions.create({
      model: "simulated/text", messages: [{ role: "user", content: `fail me ${Math.random()}` }], stream: true,
      ...({ simulate: { failWith: "unavailable" } } as object),
    });
    const err = await (async () => {
      for await (const _ of stream) { /* drain */ }
    })().then(() => undefined, (e: unknown) => e);
    expect(err, "a failed generation must not end with a clean [DONE]").toBeInstanceOf(APIError);
  });

  it("served by an Anthropic upstream: stop and tool_choice arrive under Anthropic's names and shapes (stop_sequences, tool_choice any)", async () => {
    const parameters = { type: "object", properties: { city: { type: "string" } } };
    const before = anthropicFake.requests.length;
    const res = await admin.chat.completions.create({
      model: "anthropic/claude-haiku-4-5", messages: [{ role: "user", content: "weather in Oslo?" }], max_tokens: 64, stop: "END",
      tools: [{ type: "function", function: { name: "get_weather", description: "weather", parameters } }], tool_choice: "required", parallel_tool_calls: false,
    });
    const sent = anthropicFake.requests.slice(before).find((r) => r.path.startsWith("/v1/messages"))!.body as Record<string, unknown>;
    expect(sent.stop_sequences).toEqual(["END"]);
    expect(sent.tool_choice).toEqual({ type: "any", disable_parallel_tool_use: true });
    expect(sent.tools).toEqual([{ name: "get_weather", description: "weather", input_schema: parameters }]);
    expect(sent).not.toHaveProperty("stop");
    expect(sent).not.toHaveProperty("parallel_tool_calls");
    expect(res.choices[0].finish_reason).toBe("tool_calls");
  });

  it("GraphQL's text.stop reaches either vendor under its own name (stop, stop_sequences)", async () => {
    const input = (model: string) => ({ modality: "TEXT", model, prompt: `stop at END ${Math.random()}`, wait: 30, text: { stop: ["END"] } });
    const [oBefore, aBefore] = [fake.requests.length, anthropicFake.requests.length];
    for (const model of ["openai/gpt-4o-mini", "anthropic/claude-haiku-4-5"]) {
      const r = await t.gql(t.adminKey, CREATE, { input: input(model) });
      expect(r.errors).toBeUndefined();
      expect(r.data!.createGeneration.status).toBe("SUCCEEDED");
    }
    expect(fake.requests.slice(oBefore).find((r) => r.path.startsWith("/v1/chat/completions"))!.body).toMatchObject({ stop: ["END"] });
    expect(anthropicFake.requests.slice(aBefore).find((r) => r.path.startsWith("/v1/messages"))!.body).toMatchObject({ stop_sequences: ["END"] });
  });

  it("passes tools through and answers the model's tool_calls (finish_reason tool_calls), streaming and not", async () => {
    const tools: OpenAI.ChatCompletionTool[] = [{ type: "function", function: { name: "get_weather", description: "weather", parameters: { type: "object", properties: { city: { type: "string" } } } } }];
    const res = await admin.chat.completions.create({ model: "openai/gpt-4o-mini", messages: [{ role: "user", content: "weather in Oslo?" }], tools, tool_choice: "auto" });
    expect(res.choices[0].finish_reason).toBe("tool_calls");
    const call = res.choices[0].message.tool_calls![0] as OpenAI.ChatCompletionMessageFunctionToolCall;
    expect(call.type).toBe("function");
    expect(call.function.name).toBe("get_weather");
    expect(() => JSON.parse(call.function.arguments)).not.toThrow();
    const upstream = fake.requests.filter((r) => r.path.startsWith("/v1/chat/completions")).at(-1)!;
    expect((upstream.body as { tools: unknown[]; tool_choice: unknown }).tools).toEqual(tools);
    expect((upstream.body as { tool_choice: unknown }).tool_choice).toBe("auto");

    const stream = await admin.chat.completions.create({ model: "openai/gpt-4o-mini", messages: [{ role: "user", content: "weather in Bergen?" }], tools, stream: true });
    let name = "";
    let args = "";
    let finish = "";
    for await (const c of stream)
      for (const ch of c.choices) {
        for (const x of ch.delta.tool_calls ?? []) (name += x.function?.name ?? ""), (args += x.function?.arguments ?? "");
        finish = ch.finish_reason ?? finish;
      }
    expect(name).toBe("get_weather");
    expect(() => JSON.parse(args)).not.toThrow();
    expect(finish).toBe("tool_calls");
  });

  it("tool calls and the finish reason come with the terminal state itself: a stream's end and a queued answer read no row again", async () => {
    const tools: OpenAI.ChatCompletionTool[] = [{ type: "function", function: { name: "get_weather", description: "weather", parameters: { type: "object", properties: { city: { type: "string" } } } } }];
    // Every statement the app sends meanwhile, as TypeORM's logger sees it (queryRows and TypeORM's own both report there).
    const logger = t.app.ds.logger;
    const logQuery = logger.logQuery.bind(logger);
    const seen: { query: string; params: unknown[] }[] = [];
    logger.logQuery = (query, params, runner) => (seen.push({ query, params: Array.isArray(params) ? params : [] }), logQuery(query, params, runner));
    // A read of the row: the store's findById (one prepared SELECT), or any TypeORM find on the entity.
    const rowRead = (q: string) => q.startsWith("SELECT * FROM generations WHERE id = $1") || q.includes(`FROM "generations" "GenerationEntity"`);
    const rowReads = (id: string) => seen.filter((s) => rowRead(s.query) && s.params.includes(id)).length;
    try {
      const stream = await admin.chat.completions.create({ model: "openai/gpt-4o-mini", messages: [{ role: "user", content: "weather in Tromsø?" }], tools, stream: true });
      let id = "";
      let name = "";
      let finish = "";
      for await (const c of stream) {
        id = c.id;
        for (const ch of c.choices) {
          for (const x of ch.delta.tool_calls ?? []) name += x.function?.name ?? "";
          finish = ch.finish_reason ?? finish;
        }
      }
      expect([name, finish]).toEqual(["get_weather", "tool_calls"]);
      // None: the stream subscribed to the new id before its first event, so it opens without a snapshot read (one
      // before that), and its end has the tool calls from the terminal event (one more before that).
      expect(rowReads(id.replace(/^chatcmpl-/, ""))).toBe(0);

      // LOW priority takes the queue: the answer is the terminal event's view, whole, not the row read again.
      const { data, response } = await admin.chat.completions
        .create({ model: "openai/gpt-4o-mini", messages: [{ role: "user", content: "weather in Bodø?" }], tools, switchboard: { priority: "LOW" } } as never)
        .withResponse();
      const gid = response.headers.get("x-switchboard-generation-id")!;
      expect(data.choices[0].finish_reason).toBe("tool_calls");
      expect((data.choices[0].message.tool_calls![0] as OpenAI.ChatCompletionMessageFunctionToolCall).function.name).toBe("get_weather");
      expect(rowReads(gid)).toBe(0);
    } finally {
      logger.logQuery = logQuery;
    }
  });

  it("a second turn with the tool's result keeps the ids: tool_calls/tool_call_id to OpenAI, tool_use/tool_result (tool_use_id) to Anthropic", async () => {
    const parameters = { type: "object", properties: { city: { type: "string" } } };
    const tools = [{ type: "function" as const, function: { name: "get_weather", description: "weather", parameters } }];
    const history: OpenAI.ChatCompletionMessageParam[] = [
      { role: "user", content: "weather in Oslo and Bergen?" },
      {
        role: "assistant", content: null,
        tool_calls: [
          { id: "call_oslo_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Oslo"}' } },
          { id: "call_bergen_2", type: "function", function: { name: "get_weather", arguments: '{"city":"Bergen"}' } },
        ],
      },
      { role: "tool", tool_call_id: "call_oslo_1", content: "rain, 9C" },
      { role: "tool", tool_call_id: "call_bergen_2", content: [{ type: "text", text: "rain, 11C" }] },
    ];
    const before = fake.requests.length;
    await admin.chat.completions.create({ model: "openai/gpt-4o-mini", messages: history, tools });
    const sent = fake.requests.slice(before).find((r) => r.path.startsWith("/v1/chat/completions"))!.body as Record<string, any>;
    expect(sent.messages).toEqual([
      { role: "user", content: "weather in Oslo and Bergen?" },
      {
        role: "assistant", content: null,
        tool_calls: [
          { id: "call_oslo_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Oslo"}' } },
          { id: "call_bergen_2", type: "function", function: { name: "get_weather", arguments: '{"city":"Bergen"}' } },
        ],
      },
      { role: "tool", tool_call_id: "call_oslo_1", content: "rain, 9C" },
      { role: "tool", tool_call_id: "call_bergen_2", content: "rain, 11C" },
    ]);

    // Streamed, and served by the other vendor: the same ids as Anthropic's blocks.
    const anthropicBefore = anthropicFake.requests.length;
    const stream = await admin.chat.completions.create({ model: "anthropic/claude-haiku-4-5", messages: history, tools, max_tokens: 64, stream: true });
    for await (const _ of stream) { /* drain */ }
    const msgs = (anthropicFake.requests.slice(anthropicBefore).find((r) => r.path.startsWith("/v1/messages"))!.body as Record<string, any>).messages;
    expect(msgs).toEqual([
      { role: "user", content: [{ type: "text", text: "weather in Oslo and Bergen?" }] },
      {
        role: "assistant",
        content: [
          { type: "tool_use", id: "call_oslo_1", name: "get_weather", input: { city: "Oslo" } },
          { type: "tool_use", id: "call_bergen_2", name: "get_weather", input: { city: "Bergen" } },
        ],
      },
      {
        role: "user",
        content: [
          { type: "tool_result", tool_use_id: "call_oslo_1", content: "rain, 9C" },
          { type: "tool_result", tool_use_id: "call_bergen_2", content: "rain, 11C" },
        ],
      },
    ]);

    // A tool message without its tool_call_id is refused, as OpenAI refuses it.
    const e = await failure(admin.chat.completions.create({ model: "openai/gpt-4o-mini", messages: [history[0], history[1], { role: "tool", content: "x" } as never] }));
    expect(e.status).toBe(400);
    expect((e.error as { param?: string }).param).toBe("messages[2].tool_call_id");
  });

  it("JSON mode: response_format json_object answers valid JSON", async () => {
    const res = await admin.chat.completions.create({ model: "simulated/text", messages: [{ role: "user", content: "a JSON object please" }], response_format: { type: "json_object" } });
    expect(() => JSON.parse(res.choices[0].message.content!)).not.toThrow();
    const schema = await admin.chat.completions.create({
      model: "simulated/text", messages: [{ role: "user", content: "a JSON object with a schema" }],
      response_format: { type: "json_schema", json_schema: { name: "answer", schema: { type: "object", properties: { answer: { type: "string" } } } } },
    });
    expect(() => JSON.parse(schema.choices[0].message.content!)).not.toThrow();
  });

  it("401 for a bad key, 403 for a model the tier may not use, 400 with param for bad input", async () => {
    const e401 = await failure(client("sb_not_a_real_key").chat.completions.create({ model: "simulated/text", messages: [{ role: "user", content: "hi" }] }));
    expect(e401.status).toBe(401);
    expect(e401.error).toMatchObject({ type: "authentication_error", code: "invalid_api_key" });

    const free = client((await t.createUser(undefined, { tier: "free" })).key);
    const e403 = await failure(free.chat.completions.create({ model: "openai/gpt-4o-mini", messages: [{ role: "user", content: "hi" }] }));
    expect(e403.status).toBe(403);
    expect(e403.error).toMatchObject({ type: "permission_error" });

    const e400 = await failure(admin.chat.completions.create({ model: "simulated/text", messages: [{ role: "user", content: "hi" }], n: 2 }));
    expect(e400.status).toBe(400);
    expect(e400.error).toMatchObject({ type: "invalid_request_error", param: "n" });
    const eMsg = await failure(admin.chat.completions.create({ model: "simulated/text", messages: [] }));
    expect(eMsg.status).toBe(400);
    expect((eMsg.error as { param: string }).param).toBe("messages");
    const eOpt = await failure(admin.chat.completions.create({ model: "simulated/text", messages: [{ role: "user", content: "hi" }] }, { headers: { "x-switchboard-priority": "URGENT" } }));
    expect(eOpt.status).toBe(400);
    expect((eOpt.error as { param: string }).param).toBe("x-switchboard-priority");
  });

  it("429 rate_limit_exceeded with Retry-After past the tier's rate, and 429 when the user's queue is full", async () => {
    const pro = client((await t.createUser(undefined, { tier: "pro" })).key);
    const ask = () => pro.chat.completions.create({ model: "simulated/text", messages: [{ role: "user", content: `rate ${Math.random()}` }] });
    await ask();
    await ask();
    const e = await failure(ask());
    expect(e.status).toBe(429);
    expect(e.error).toMatchObject({ type: "rate_limit_error", code: "rate_limit_exceeded" });
    expect(Number(e.headers?.get("retry-after"))).toBeGreaterThan(0);

    const user = await t.createUser(undefined, { tier: "enterprise" });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await t.gql(user.key, CREATE, { input: { modality: "TEXT", model: "simulated/text", prompt: `hold ${i} ${Math.random()}`, params: { simulate: { latencyMs: 20_000 } } } });
      expect(r.errors).toBeUndefined();
      ids.push(r.data!.createGeneration.id);
    }
    const full = await failure(client(user.key).chat.completions.create({ model: "simulated/text", messages: [{ role: "user", content: "one more" }] }));
    expect(full.status).toBe(429);
    expect((full.error as { code: string }).code).toBe("queue_full");
    expect(Number(full.headers?.get("retry-after"))).toBeGreaterThan(0);
    for (const id of ids) await t.gql(user.key, `mutation($id: ID!) { cancelGeneration(id: $id) { id } }`, { id });
  });

  it("429 insufficient_quota when the budget is exhausted", async () => {
    const user = await t.createUser(undefined, { tier: "pro" });
    await setQuota(t, user.id, 1);
    const e = await failure(client(user.key).chat.completions.create({ model: "simulated/text", messages: [{ role: "user", content: "too expensive" }] }));
    expect(e.status).toBe(429);
    expect(e.error).toMatchObject({ type: "insufficient_quota", code: "insufficient_quota" });
  });

  it("503 when every candidate's circuit is open, 504 past the request's deadline", async () => {
    const open = await t.gql(t.adminKey, `mutation { forceOpenCircuit(provider: "simulated") { state } }`);
    expect(open.errors).toBeUndefined();
    try {
      const e = await failure(admin.chat.completions.create(
        { model: "simulated/text", messages: [{ role: "user", content: `circuit ${Math.random()}` }], ...({ switchboard: { whenUnavailable: "FAIL" } } as object) },
      ));
      expect(e.status).toBe(503);
      expect(e.headers?.get("x-switchboard-generation-id")).toBeTruthy();
    } finally {
      await t.gql(t.adminKey, `mutation { resetCircuit(provider: "simulated") { state } }`);
    }
    const late = await failure(admin.chat.completions.create(
      { model: "simulated/text", messages: [{ role: "user", content: `slow ${Math.random()}` }], ...({ simulate: { latencyMs: 5000 } } as object) },
      { headers: { "x-switchboard-deadline-seconds": "1" } },
    ));
    expect(late.status).toBe(504);
    expect((late.error as { code: string }).code).toBe("deadline_exceeded");
  }, 30_000);

  it("a fallback mid-stream restarts on the next candidate without duplicating text (restart marker)", async () => {
    fake.scenario = "cut"; // two content chunks, then the socket is destroyed
    try {
      const stream = await admin.chat.completions.create({
        model: "openai/gpt-4o-mini", messages: [{ role: "user", content: `fall back ${Math.random()}` }], stream: true,
        ...({ switchboard: { fallbackModels: ["simulated/text"] } } as object),
      });
      let text = "";
      let id = "";
      let restarts = 0;
      let sawBeforeRestart = "";
      let done = false;
      for await (const c of stream) {
        id = c.id;
        if ((c as { switchboard?: { restart?: boolean } }).switchboard?.restart) {
          restarts++;
          sawBeforeRestart = text;
          text = "";
        }
        for (const ch of c.choices) {
          text += ch.delta.content ?? "";
          if (ch.finish_reason) done = true;
        }
      }
      expect(done).toBe(true);
      const g = await gen(generationIdOf(id));
      expect(g.status).toBe("SUCCEEDED");
      expect(g.attempts.map((a: { model: string; status: string }) => [a.model, a.status]).at(-1)).toEqual(["text", "SUCCEEDED"]); // provider models: the fake's gpt-4o-mini, then simulated's text
      expect(text).toBe(g.output.text);
      // The cut answer had reached the client (the fake's words), so exactly one marker told it to drop them.
      expect(restarts).toBe(1);
      expect(sawBeforeRestart).toContain("You said");
      expect(g.output.text).not.toContain("fake OpenAI answer");
    } finally {
      fake.scenario = "ok";
    }
  }, 30_000);

  it("answers a browser's CORS preflight, and unknown /v1 paths in OpenAI's shape", async () => {
    const pre = await fetch(`http://127.0.0.1:${t.port}/v1/chat/completions`, {
      method: "OPTIONS", headers: { origin: "http://app.example", "access-control-request-method": "POST", "access-control-request-headers": "authorization,content-type" },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get("access-control-allow-origin")).toBeTruthy();
    const unknown = await fetch(`http://127.0.0.1:${t.port}/v1/nothing-here`, { headers: { authorization: `Bearer ${t.adminKey}` } });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: { type: string } }).error.type).toBe("invalid_request_error");
  });

  it("works with the Vercel AI SDK's OpenAI-compatible provider: generateText and streamText", async () => {
    const sb = createOpenAICompatible({ name: "switchboard", baseURL: `http://127.0.0.1:${t.port}/v1`, apiKey: t.adminKey, includeUsage: true });
    const g = await generateText({ model: sb("simulated/text"), prompt: "hello from the AI SDK", maxRetries: 0 });
    expect(g.text.length).toBeGreaterThan(0);
    expect(g.finishReason).toBe("stop");

    const s = streamText({ model: sb("simulated/text"), prompt: `stream from the AI SDK ${Math.random()}`, maxRetries: 0 });
    let text = "";
    for await (const part of s.textStream) text += part;
    expect(text).toBe(await s.text);
    expect(text.length).toBeGreaterThan(0);
  });
});
