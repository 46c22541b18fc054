/**
 * Graceful shutdown ends the open /v1 streams (issue 16) instead of leaving them to hang until
 * the HTTP drain gives up: a chat completions stream gets an error event and no `[DONE]`, a
 * Responses stream an `error` event and no `response.completed`, an Anthropic Messages stream an
 * `error` event and no `message_stop` — through the official SDKs (chat and messages throw; the
 * Responses stream yields its `error` event) and on the wire.
 * The upstream fakes hold every call for 10 s, so nothing could have ended on its own.
 */
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAnthropicFake, type AnthropicFake } from "../fakes/anthropic.fake";
import { startOpenAIFake, type OpenAIFake } from "../fakes/openai.fake";
import { startTestApp, type TestApp } from "../helpers/test-app";

const LIST = `query { generations(first: 20) { edges { node { id status } } } }`;

/** Reads a raw SSE response to its end (or its connection's end): the text, and whether it ended cleanly. */
async function readAll(res: Response): Promise<{ text: string; broken: boolean }> {
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  let text = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return { text, broken: false };
      text += dec.decode(value, { stream: true });
    }
  } catch {
    return { text, broken: true };
  }
}

describe("graceful shutdown ends open /v1 streams with their API's error event", () => {
  let t: TestApp;
  let openaiFake: OpenAIFake;
  let anthropicFake: AnthropicFake;
  let closed = false;

  beforeAll(async () => {
    openaiFake = await startOpenAIFake();
    anthropicFake = await startAnthropicFake();
    openaiFake.scenario = "slow";
    anthropicFake.scenario = "slow";
    t = await startTestApp({
      http: { shutdownGraceMs: 300 },
      providers: {
        vendors: {
          openai: { baseUrl: `${openaiFake.url}/v1`, keys: [{ label: "env-1", key: "sk-test-openai-1234" }] },
          anthropic: { baseUrl: anthropicFake.url, keys: [{ label: "env-1", key: "sk-ant-test-5678" }] },
        },
        healthIntervalMs: 0,
      },
    } as never);
  }, 120_000);
  afterAll(async () => {
    if (!closed) await t?.close();
    await openaiFake?.close();
    await anthropicFake?.close();
  });

  it("chat completions, responses and messages streams (SDKs and raw) each end with an error event, never a clean end", async () => {
    const base = `http://127.0.0.1:${t.port}`;
    const openai = new OpenAI({ apiKey: t.adminKey, baseURL: `${base}/v1`, maxRetries: 0 });
    const anthropic = new Anthropic({ apiKey: t.adminKey, baseURL: base, maxRetries: 0 });
    const outcome = (p: Promise<unknown>) => p.then(() => "ended cleanly", (e: unknown) => e);

    // The SDKs' streams.
    const chat = await openai.chat.completions.create({ model: "openai/gpt-4o-mini", messages: [{ role: "user", content: "slow 1" }], stream: true });
    const chatDone = outcome((async () => { for await (const _ of chat) { /* drain */ } })());
    const resp = await openai.responses.create({ model: "openai/gpt-4o-mini", input: "slow 2", stream: true });
    const respEvents: string[] = [];
    const respDone = outcome((async () => { for await (const ev of resp) respEvents.push(ev.type); })());
    const msgs = anthropic.messages.stream({ model: "anthropic/claude-haiku-4-5", max_tokens: 32, messages: [{ role: "user", content: "slow 3" }] });
    const msgsDone = outcome(msgs.finalMessage());
    // The same on the wire.
    const post = (path: string, body: unknown) =>
      fetch(`${base}${path}`, { method: "POST", headers: { authorization: `Bearer ${t.adminKey}`, "content-type": "application/json", "anthropic-version": "2023-06-01" }, body: JSON.stringify(body) });
    const rawChat = await post("/v1/chat/completions", { model: "openai/gpt-4o-mini", messages: [{ role: "user", content: "slow 4" }], stream: true });
    const rawMsgs = await post("/v1/messages", { model: "anthropic/claude-haiku-4-5", max_tokens: 32, messages: [{ role: "user", content: "slow 5" }], stream: true });
    expect(rawChat.status).toBe(200);
    expect(rawMsgs.status).toBe(200);
    const rawChatDone = readAll(rawChat);
    const rawMsgsDone = readAll(rawMsgs);

    // Every generation is under way (its upstream call held by the fake).
    const end = Date.now() + 20_000;
    for (;;) {
      const res = await t.gql<{ generations: { edges: { node: { status: string } }[] } }>(t.adminKey, LIST);
      const statuses = res.data!.generations.edges.map((e) => e.node.status);
      if (statuses.filter((s) => s === "RUNNING").length >= 5) break;
      if (Date.now() > end) throw new Error(`not all running: ${statuses.join(",")}`);
      await new Promise((r) => setTimeout(r, 50));
    }

    const t0 = Date.now();
    closed = true;
    await t.close();
    const [chatErr, respErr, msgsErr, wireChat, wireMsgs] = await Promise.all([chatDone, respDone, msgsDone, rawChatDone, rawMsgsDone]);
    // Well before the fakes' 10 s and the HTTP drain's own timeout: the streams were ended, not cut.
    expect(Date.now() - t0).toBeLessThan(8000);

    expect(chatErr, "the chat stream must not end cleanly").toBeInstanceOf(OpenAI.APIError);
    expect(String((chatErr as Error).message)).toContain("shutting down");
    // The Responses API's error is a stream event of its own (the SDK yields it: ResponseErrorEvent), then the stream ends.
    expect(respErr).toBe("ended cleanly");
    expect(respEvents.at(-1)).toBe("error");
    expect(respEvents).not.toContain("response.completed");
    expect(msgsErr, "the messages stream must not end cleanly").toBeInstanceOf(Anthropic.APIError);

    expect(wireChat.broken, "ended by the server, not cut").toBe(false);
    expect(wireChat.text).toMatch(/data: \{"error":\{"message":"The server is shutting down/);
    expect(wireChat.text).not.toContain("[DONE]");
    expect(wireMsgs.broken).toBe(false);
    expect(wireMsgs.text).toMatch(/event: error\ndata: \{"type":"error","error":\{"type":"[a-z_]+","message":"The server is shutting down/);
    expect(wireMsgs.text).not.toContain("message_stop");
  });
});
