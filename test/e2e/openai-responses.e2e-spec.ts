/**
 * POST /v1/responses (the OpenAI Responses API) through the official `openai` client pointed at a
 * test server, the simulated provider answering: a waited-for response, a streamed one whose
 * deltas add up to the answer, background responses retrieved until done and cancelled, a dropped
 * stream resumed with `starting_after` (exactly the events after N: the same events a full replay
 * has there, nothing missing or repeated), function tools through a fake OpenAI upstream
 * (function_call items), and errors in OpenAI's shape.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import OpenAI from "openai";
import type { ResponseStreamEvent } from "openai/resources/responses/responses";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startOpenAIFake, type OpenAIFake } from "../fakes/openai.fake";
import { until } from "../helpers/stream-protocol";
import { startTestApp, type TestApp } from "../helpers/test-app";

const GEN = `query($id: ID!) { generation(id: $id) { id status source requestId prompt system } }`;

/** Extra body fields the SDK's types do not know (Switchboard's own options), sent as they are. */
type Create = Parameters<OpenAI["responses"]["create"]>[0];
const withSwitchboard = <T extends Create>(body: T, switchboard: Record<string, unknown>): T => ({ ...body, switchboard }) as T;
/** A slow simulated answer: `steps` deltas spread over `latencyMs`. */
const slow = (latencyMs: number, steps = 20) => ({ params: { simulate: { latencyMs, steps } }, cache: "BYPASS" });

const deltas = (evs: ResponseStreamEvent[]) => evs.filter((e) => e.type === "response.output_text.delta").map((e) => (e as { delta: string }).delta).join("");
/** The text a client that honours the restart marker holds after these events. */
const rebuild = (evs: ResponseStreamEvent[], text = "") =>
  evs.reduce((t, e) => ((e.type as string) === "switchboard.output_text.restarted" ? "" : e.type === "response.output_text.delta" ? t + e.delta : t), text);
const brief = (evs: ResponseStreamEvent[]) => evs.map((e) => [e.type, e.sequence_number, (e as { delta?: string }).delta ?? null]);

async function collect(stream: AsyncIterable<ResponseStreamEvent>): Promise<ResponseStreamEvent[]> {
  const out: ResponseStreamEvent[] = [];
  for await (const ev of stream) out.push(ev);
  return out;
}

describe("OpenAI-compatible /v1/responses", () => {
  let t: TestApp;
  let client: OpenAI;
  let fake: OpenAIFake;
  let dir: string;

  beforeAll(async () => {
    fake = await startOpenAIFake();
    dir = mkdtempSync(path.join(tmpdir(), "sb-openai-responses-"));
    const file = path.join(dir, "providers.json");
    writeFileSync(file, JSON.stringify({ tiers: { free: ["simulated/text"] } }));
    t = await startTestApp({ providers: { file, vendors: { openai: { baseUrl: `${fake.url}/v1`, keys: [{ label: "env-1", key: "sk-test-openai-1234" }] } } } });
    client = new OpenAI({ apiKey: t.adminKey, baseURL: `http://127.0.0.1:${t.port}/v1`, maxRetries: 0 });
  }, 120_000);
  afterAll(async () => {
    await t?.close();
    await fake?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("answers a Response object; the generation is of source OPENAI with the request id, instructions as its system text", async () => {
    const { data: resp, response } = await client.responses
      .create({ model: "simulated/text", input: "Tell me about lighthouses", instructions: "Be brief", temperature: 0.3, max_output_tokens: 200 })
      .withResponse();
    expect(resp).toMatchObject({ object: "response", status: "completed", model: "simulated/text", error: null });
    expect(resp.id).toMatch(/^resp_[0-9a-f-]{36}$/);
    expect(resp.output).toEqual([{ id: expect.stringMatching(/^msg_/), type: "message", role: "assistant", status: "completed", content: [{ type: "output_text", text: resp.output_text, annotations: [], logprobs: [] }] }]);
    expect(resp.output_text.length).toBeGreaterThan(0);
    expect(resp.usage?.output_tokens).toBeGreaterThan(0);
    const id = response.headers.get("x-switchboard-generation-id")!;
    expect(resp.id).toBe(`resp_${id}`);
    expect(response.headers.get("x-switchboard-provider")).toBe("simulated");
    expect(response.headers.get("x-switchboard-attempts")).toBe("1");
    const gen = (await t.gql(t.adminKey, GEN, { id })).data!.generation;
    expect(gen).toMatchObject({ status: "SUCCEEDED", source: "OPENAI", prompt: "Tell me about lighthouses", system: "Be brief" });
    expect(gen.requestId).toBe(response.headers.get("x-request-id"));
  });

  it("takes message items with input_text parts; JSON mode answers JSON", async () => {
    const resp = await client.responses.create({
      model: "simulated/text",
      input: [{ role: "user", content: [{ type: "input_text", text: "List three colours as JSON" }] }],
      text: { format: { type: "json_object" } },
    });
    expect(resp.status).toBe("completed");
    expect(() => JSON.parse(resp.output_text)).not.toThrow();
    expect(resp.text?.format?.type).toBe("json_object");
  });

  it("streams the Responses events in order, numbered increasingly; the deltas add up to the completed text", async () => {
    const body = { model: "simulated/text", input: "Describe a winter morning", stream: true as const };
    const evs = await collect(await client.responses.create(withSwitchboard(body, { cache: "BYPASS" })));
    const types = evs.map((e) => e.type);
    expect(types.slice(0, 5)).toEqual(["response.created", "response.queued", "response.in_progress", "response.output_item.added", "response.content_part.added"]);
    expect(types.slice(-4)).toEqual(["response.output_text.done", "response.content_part.done", "response.output_item.done", "response.completed"]);
    const seqs = evs.map((e) => e.sequence_number);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(seqs.length);
    const completed = evs.at(-1) as Extract<ResponseStreamEvent, { type: "response.completed" }>;
    const text = (completed.response.output[0] as { content: { text: string }[] }).content[0].text;
    expect(text.length).toBeGreaterThan(0);
    expect(deltas(evs)).toBe(text);
    const done = evs.find((e) => e.type === "response.output_text.done") as { text: string };
    expect(done.text).toBe(text);
    // The same request, waited for, answers the same text (the simulated provider is deterministic).
    expect((await client.responses.create({ model: "simulated/text", input: "Describe a winter morning" })).output_text).toBe(text);
  });

  it("passes function tools to the provider; its tool call comes back as a function_call item, streamed too", async () => {
    const tools = [{ type: "function" as const, name: "get_weather", description: "Weather for a city", parameters: { type: "object", properties: { city: { type: "string" } } }, strict: false }];
    const resp = await client.responses.create({ model: "openai/gpt-4o-mini", input: "weather in Oslo?", tools, tool_choice: "auto" });
    expect(resp.status).toBe("completed");
    const call = resp.output.find((o) => o.type === "function_call");
    expect(call).toMatchObject({ type: "function_call", call_id: "call_fake_0", name: "get_weather", status: "completed" });
    expect(() => JSON.parse((call as { arguments: string }).arguments)).not.toThrow();
    const evs = await collect(await client.responses.create({ model: "openai/gpt-4o-mini", input: "weather in Bergen?", tools, stream: true }));
    const done = evs.filter((e) => e.type === "response.output_item.done").map((e) => (e as { item: { type: string } }).item.type);
    expect(done).toContain("function_call");
    expect(evs.at(-1)?.type).toBe("response.completed");
  });

  it("a second turn with function_call and function_call_output items reaches the upstream as tool_calls and tool_call_id", async () => {
    const before = fake.requests.length;
    const tools = [{ type: "function" as const, name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } }, strict: false }];
    await client.responses.create({
      model: "openai/gpt-4o-mini", tools,
      input: [
        { role: "user", content: "weather in Bergen?" },
        { type: "function_call", call_id: "call_bergen_9", name: "get_weather", arguments: '{"city":"Bergen"}' },
        { type: "function_call_output", call_id: "call_bergen_9", output: "rain, 10C" },
      ],
    });
    const sent = fake.requests.slice(before).find((r) => r.path.startsWith("/v1/chat/completions"))!.body as { messages: unknown[] };
    expect(sent.messages).toEqual([
      { role: "user", content: "weather in Bergen?" },
      { role: "assistant", content: null, tool_calls: [{ id: "call_bergen_9", type: "function", function: { name: "get_weather", arguments: '{"city":"Bergen"}' } }] },
      { role: "tool", tool_call_id: "call_bergen_9", content: "rain, 10C" },
    ]);
  });

  it("background: answers at once, and retrieve follows it to completed", async () => {
    const resp = await client.responses.create(withSwitchboard({ model: "simulated/text", input: "A slow answer, please", background: true }, slow(1500)));
    expect(["queued", "in_progress"]).toContain(resp.status);
    expect(resp.background).toBe(true);
    const final = await until(() => client.responses.retrieve(resp.id), (r) => r.status === "completed", 30_000, "a completed response");
    expect(final.output_text.length).toBeGreaterThan(0);
    expect(final.background, "a retrieved background response says so (stored on the generation)").toBe(true);
    // The id without its resp_ prefix (the generation's) names it too.
    expect((await client.responses.retrieve(resp.id.slice("resp_".length))).id).toBe(resp.id);
  });

  it("a retrieved response that was not created in the background says background: false (waited and streamed)", async () => {
    const waited = await client.responses.create({ model: "simulated/text", input: `not in the background ${Math.random()}` });
    expect(waited.background).toBe(false);
    expect((await client.responses.retrieve(waited.id)).background).toBe(false);
    const evs = await collect(await client.responses.create({ model: "simulated/text", input: `streamed, not in the background ${Math.random()}`, stream: true }));
    const streamedId = (evs.at(-1) as { response: { id: string } }).response.id;
    expect((await client.responses.retrieve(streamedId)).background).toBe(false);
    const raw = await fetch(`http://127.0.0.1:${t.port}/v1/responses/${waited.id}`, { headers: { authorization: `Bearer ${t.adminKey}` } });
    expect(((await raw.json()) as { background: unknown }).background, "never null on the wire").toBe(false);
  });

  it("background + cancel → cancelled; cancelling it again is a conflict in OpenAI's shape", async () => {
    const resp = await client.responses.create(withSwitchboard({ model: "simulated/text", input: "Take your time", background: true }, slow(30_000)));
    const cancelled = await client.responses.cancel(resp.id);
    expect(cancelled).toMatchObject({ id: resp.id, status: "cancelled", background: true });
    expect(await client.responses.retrieve(resp.id)).toMatchObject({ status: "cancelled", background: true });
    const err = await client.responses.cancel(resp.id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(err).toMatchObject({ status: 409, type: "invalid_request_error", code: "conflict" });
  });

  it("a stream of a cancelled background response ends with response.cancelled", async () => {
    const resp = await client.responses.create(withSwitchboard({ model: "simulated/text", input: "Cancel me mid-way", background: true }, slow(30_000)));
    const stream = await client.responses.retrieve(resp.id, { stream: true });
    const seen: ResponseStreamEvent[] = [];
    const reading = (async () => {
      for await (const ev of stream) seen.push(ev);
    })();
    await until(() => seen.length, (n) => n >= 3, 15_000, "the stream's first events");
    await client.responses.cancel(resp.id);
    await reading;
    expect(seen.at(-1)).toMatchObject({ type: "response.cancelled", response: { status: "cancelled" } });
  });

  it("a dropped stream resumed with starting_after gets exactly the events after N", async () => {
    const body = withSwitchboard({ model: "simulated/text", input: "Write a few sentences about rivers", background: true, stream: true as const }, slow(3000, 30));
    const first = await client.responses.create(body);
    const before: ResponseStreamEvent[] = [];
    for await (const ev of first) {
      before.push(ev);
      if (before.filter((e) => e.type === "response.output_text.delta").length === 3) break; // drops the connection
    }
    const id = (before[0] as Extract<ResponseStreamEvent, { type: "response.created" }>).response.id;
    const n = before.at(-1)!.sequence_number;
    // Deltas go out while nobody listens: the resumed stream replays them from the stream log, then goes live.
    await new Promise((r) => setTimeout(r, 600));
    expect((await client.responses.retrieve(id)).status).toBe("in_progress");
    const after = await collect(await client.responses.retrieve(id, { stream: true, starting_after: n }));
    expect(after.length).toBeGreaterThan(0);
    expect(after[0].sequence_number).toBeGreaterThan(n);
    expect(after.at(-1)?.type).toBe("response.completed");
    const final = await client.responses.retrieve(id);
    expect(deltas(before) + deltas(after)).toBe(final.output_text);

    // A full replay from the start has the same events: the resumed ones exactly after N, the dropped ones up to it.
    const all = await collect(await client.responses.retrieve(id, { stream: true }));
    expect(brief(all.filter((e) => e.sequence_number > n))).toEqual(brief(after));
    expect(brief(all.filter((e) => e.sequence_number <= n))).toEqual(brief(before));
    expect(deltas(all)).toBe(final.output_text);
    // Resuming after the last event of a finished stream yields nothing more.
    expect(await collect(await client.responses.retrieve(id, { stream: true, starting_after: all.at(-1)!.sequence_number }))).toEqual([]);
  });

  it("a fallback mid-stream sends the restart marker; the text after it, live or resumed, is the answer", async () => {
    fake.scenario = "cut"; // two content chunks, then the socket is destroyed
    fake.latencyMs = 300; // the stream is open before the cut answer's first chunk
    let live: ResponseStreamEvent[];
    try {
      const body = withSwitchboard({ model: "openai/gpt-4o-mini", input: `fall back ${Math.random()}`, stream: true as const, background: true }, { fallbackModels: ["simulated/text"] });
      live = await collect(await client.responses.create(body));
    } finally {
      fake.scenario = "ok";
      fake.latencyMs = 0;
    }
    const markers = live.filter((e) => (e.type as string) === "switchboard.output_text.restarted");
    expect(markers.length).toBeGreaterThanOrEqual(1);
    const id = (live[0] as Extract<ResponseStreamEvent, { type: "response.created" }>).response.id;
    const final = await client.responses.retrieve(id);
    expect(final.status).toBe("completed");
    expect(rebuild(live)).toBe(final.output_text);
    // From the start: the discarded run's deltas are not replayed at all.
    const all = await collect(await client.responses.retrieve(id, { stream: true }));
    expect(all.some((e) => (e.type as string) === "switchboard.output_text.restarted")).toBe(false);
    expect(deltas(all)).toBe(final.output_text);
    // From after the cut answer's first delta: the marker comes, then the answer.
    const firstDelta = live.find((e) => e.type === "response.output_text.delta")!;
    const resumed = await collect(await client.responses.retrieve(id, { stream: true, starting_after: firstDelta.sequence_number }));
    expect(resumed.filter((e) => (e.type as string) === "switchboard.output_text.restarted").length).toBeGreaterThanOrEqual(1);
    expect(rebuild(resumed, rebuild([firstDelta]))).toBe(final.output_text);
  });

  describe("errors in OpenAI's shape", () => {
    it("401 for a bad key", async () => {
      const bad = new OpenAI({ apiKey: "sb_nope", baseURL: `http://127.0.0.1:${t.port}/v1`, maxRetries: 0 });
      const err = await bad.responses.create({ model: "simulated/text", input: "hi" }).catch((e: unknown) => e);
      expect(err).toMatchObject({ status: 401, type: "authentication_error", code: "invalid_api_key" });
    });

    it("403 for a model the key's tier may not use", async () => {
      const free = new OpenAI({ apiKey: (await t.createUser("free-responses@example.com", { tier: "free" })).key, baseURL: `http://127.0.0.1:${t.port}/v1`, maxRetries: 0 });
      const err = await free.responses.create({ model: "openai/gpt-4o-mini", input: "hi" }).catch((e: unknown) => e);
      expect(err).toMatchObject({ status: 403, type: "permission_error", code: "model_not_allowed" });
      expect((await free.responses.create({ model: "simulated/text", input: "hi" })).status).toBe("completed");
    });

    it("400 naming the param", async () => {
      for (const [body, param] of [
        [{ model: "simulated/text" }, "input"],
        [{ model: "simulated/text", input: [{ role: "user", content: [{ type: "input_file", file_id: "f" }] }] }, "input[0].content[0].type"],
        [{ model: "simulated/text", input: "hi", previous_response_id: "resp_x" }, "previous_response_id"],
        [{ model: "simulated/text", input: "hi", switchboard: { priority: "URGENT" } }, "switchboard.priority"],
      ] as const) {
        const err = await client.responses.create(body as unknown as Create).catch((e: unknown) => e);
        expect(err).toMatchObject({ status: 400, type: "invalid_request_error", param });
      }
      const res = await fetch(`http://127.0.0.1:${t.port}/v1/responses/resp_x?stream=true&starting_after=-2`, { headers: { authorization: `Bearer ${t.adminKey}` } });
      expect(res.status).toBe(404); // the id is looked up first
    });

    it("404 for an unknown response, in the raw body shape", async () => {
      const res = await fetch(`http://127.0.0.1:${t.port}/v1/responses/resp_00000000-0000-4000-8000-000000000000`, { headers: { authorization: `Bearer ${t.adminKey}` } });
      expect(res.status).toBe(404);
      expect(await res.json()).toEqual({ error: { message: expect.any(String), type: "invalid_request_error", param: null, code: "not_found" } });
      const err = await client.responses.retrieve("resp_nope").catch((e: unknown) => e);
      expect(err).toMatchObject({ status: 404 });
    });

    it("400 for a bad starting_after", async () => {
      const resp = await client.responses.create({ model: "simulated/text", input: "short" });
      const res = await fetch(`http://127.0.0.1:${t.port}/v1/responses/${resp.id}?stream=true&starting_after=abc`, { headers: { authorization: `Bearer ${t.adminKey}` } });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: unknown }).error).toMatchObject({ param: "starting_after", type: "invalid_request_error" });
    });
  });
});
