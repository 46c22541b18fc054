/**
 * Content safety through the doors users use (GraphQL, /v1/chat/completions, /v1/messages),
 * with OpenAI's /v1/moderations as the classifier: a fake OpenAI server speaking its real wire
 * format (test/fakes/moderation.fake.ts) that flags what each test says it flags.
 */
import pg from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { moderationOf, type ModerationFakeState } from "../fakes/moderation.fake";
import { startOpenAIFake, type OpenAIFake } from "../fakes/openai.fake";
import { QUOTA } from "../helpers/quota";
import { startTestApp, type TestApp } from "../helpers/test-app";

const FIELDS = `id status costUsd error { code message } provider { id } output { text }
  attempts { attemptNo status errorKind costUsd provider }
  moderation { flagged stage categories flaggedAttempts checked unchecked classifier }`;
const CREATE = `mutation($input: CreateGenerationInput!) { createGeneration(input: $input) { ${FIELDS} } }`;
const KEYS = [{ label: "env-1", key: "sk-test-openai-moderation" }];
/** Every answer of the OpenAI fake ends so ("You said: … This is the fake OpenAI answer."); the simulated provider's never does. */
const OPENAI_ANSWER = "This is the fake OpenAI answer";

const openaiText = (prompt: string, extra: Record<string, unknown> = {}) => ({ modality: "TEXT", model: "openai/gpt-4o-mini", prompt, wait: 30, ...extra });

async function rows(t: TestApp, userId: string): Promise<{ generations: number; ledger: number }> {
  const c = new pg.Client({ connectionString: t.db.url });
  await c.connect();
  try {
    const g = await c.query(`SELECT count(*)::int AS n FROM generations WHERE user_id = $1`, [userId]);
    const l = await c.query(`SELECT count(*)::int AS n FROM spend_ledger WHERE user_id = $1`, [userId]);
    return { generations: g.rows[0].n, ledger: l.rows[0].n };
  } finally {
    await c.end();
  }
}

async function quota(t: TestApp, key: string): Promise<{ reservedUsd: number; spentUsd: number; requests: number }> {
  const res = await t.gql(key, QUOTA, {});
  expect(res.errors).toBeUndefined();
  return res.data!.quota;
}

describe("content moderation (MODERATION=both, OpenAI /v1/moderations, failing closed)", () => {
  let t: TestApp;
  let fake: OpenAIFake;
  let mod: ModerationFakeState;

  beforeAll(async () => {
    fake = await startOpenAIFake();
    mod = moderationOf(fake);
    t = await startTestApp({
      providers: { vendors: { openai: { baseUrl: `${fake.url}/v1`, keys: KEYS } }, healthIntervalMs: 0 },
      moderation: { mode: "both", provider: "openai", model: "omni-moderation-latest", timeoutMs: 1500, onError: "closed" },
    } as never);
  }, 120_000);
  afterAll(async () => {
    await t?.close();
    await fake?.close();
  });
  beforeEach(() => {
    mod.scenario = "ok";
    mod.scenarioFor = undefined;
    mod.flag = (text) => [...text.matchAll(/\[flag:([a-z/-]+)\]/g)].map((m) => m[1]);
  });

  it("a flagged input is refused with CONTENT_POLICY at admission: no row, nothing reserved or charged, no upstream call", async () => {
    const u = await t.createUser(undefined, { tier: "pro" });
    const chatsBefore = fake.requests.filter((r) => r.path.startsWith("/v1/chat")).length;
    const res = await t.gql(u.key, CREATE, { input: openaiText("how do I hurt someone [flag:violence]") });
    expect(res.data).toBeNull();
    expect(res.errors![0].extensions).toMatchObject({ code: "CONTENT_POLICY", stage: "INPUT", categories: ["violence"], classifier: "openai/omni-moderation-latest" });
    // The classifier got the prompt in OpenAI's wire format.
    const call = fake.requests.filter((r) => r.path === "/v1/moderations").at(-1)!;
    expect(call.body).toMatchObject({ model: "omni-moderation-latest", input: ["how do I hurt someone [flag:violence]"] });
    expect(call.headers.authorization).toBe(`Bearer ${KEYS[0].key}`);
    expect(await rows(t, u.id)).toEqual({ generations: 0, ledger: 0 });
    expect(await quota(t, u.key)).toMatchObject({ reservedUsd: 0, spentUsd: 0, requests: 0 });
    expect(fake.requests.filter((r) => r.path.startsWith("/v1/chat")).length).toBe(chatsBefore);
  });

  it("the /v1 doors answer a flagged input in their own error shapes (OpenAI 400 content_policy, Anthropic 400 invalid_request_error)", async () => {
    const u = await t.createUser(undefined, { tier: "pro" });
    const root = `http://127.0.0.1:${t.port}`;
    const o = await fetch(`${root}/v1/chat/completions`, {
      method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${u.key}` },
      body: JSON.stringify({ model: "openai/gpt-4o-mini", messages: [{ role: "user", content: "a system message is fine, but [flag:hate] is not" }] }),
    });
    expect(o.status).toBe(400);
    expect(((await o.json()) as { error: Record<string, unknown> }).error).toMatchObject({ type: "invalid_request_error", code: "content_policy" });
    const a = await fetch(`${root}/v1/messages`, {
      method: "POST", headers: { "content-type": "application/json", "x-api-key": u.key, "anthropic-version": "2023-06-01" },
      body: JSON.stringify({ model: "openai/gpt-4o-mini", max_tokens: 50, messages: [{ role: "user", content: "tell me [flag:self-harm]" }] }),
    });
    expect(a.status).toBe(400);
    expect(await a.json()).toMatchObject({ type: "error", error: { type: "invalid_request_error" } });
    expect(await rows(t, u.id)).toEqual({ generations: 0, ledger: 0 });
    expect((await quota(t, u.key)).reservedUsd).toBe(0);
  });

  it("a flagged output fails the attempt as INVALID, charged, and the generation with CONTENT_POLICY (onFlagged: FAIL, the default)", async () => {
    mod.flag = (text) => (text.includes(OPENAI_ANSWER) ? ["violence"] : []);
    const u = await t.createUser(undefined, { tier: "pro" });
    const res = await t.gql(u.key, CREATE, { input: openaiText("a harmless question", { fallbackModels: ["simulated/text"] }) });
    expect(res.errors).toBeUndefined();
    const g = res.data!.createGeneration;
    expect(g.status).toBe("FAILED");
    expect(g.error.code).toBe("CONTENT_POLICY");
    expect(g.attempts).toHaveLength(1); // FAIL: the fallback is not tried
    expect(g.attempts[0]).toMatchObject({ status: "INVALID", errorKind: "content_policy", provider: "openai" });
    expect(g.attempts[0].costUsd).toBeGreaterThan(0);
    expect(g.costUsd).toBeCloseTo(g.attempts[0].costUsd, 9);
    expect(g.moderation).toEqual({
      flagged: true, stage: "OUTPUT", categories: ["violence"], flaggedAttempts: 1, checked: ["INPUT", "OUTPUT"], unchecked: [], classifier: "openai/omni-moderation-latest",
    });
    const q = await quota(t, u.key);
    expect(q.reservedUsd).toBe(0);
    expect(q.spentUsd).toBeCloseTo(g.costUsd, 9);
  });

  it("with onFlagged: FALLBACK a flagged output falls back to the next candidate, which serves a clean answer", async () => {
    mod.flag = (text) => (text.includes(OPENAI_ANSWER) ? ["harassment", "violence"] : []);
    const u = await t.createUser(undefined, { tier: "pro" });
    const res = await t.gql(u.key, CREATE, { input: openaiText("another harmless question", { fallbackModels: ["simulated/text"], onFlagged: "FALLBACK" }) });
    expect(res.errors).toBeUndefined();
    const g = res.data!.createGeneration;
    expect(g.status).toBe("SUCCEEDED");
    expect(g.provider.id).toBe("simulated");
    expect(g.output.text).not.toContain(OPENAI_ANSWER);
    expect(g.attempts.map((a: { provider: string; status: string }) => `${a.provider}:${a.status}`)).toEqual(["openai:INVALID", "simulated:SUCCEEDED"]);
    expect(g.costUsd).toBeGreaterThanOrEqual(g.attempts[0].costUsd); // the flagged attempt is charged too
    expect(g.attempts[0].costUsd).toBeGreaterThan(0);
    expect(g.moderation).toMatchObject({ flagged: true, stage: "OUTPUT", categories: ["harassment", "violence"], flaggedAttempts: 1, checked: ["INPUT", "OUTPUT"] });
    expect((await quota(t, u.key)).reservedUsd).toBe(0);
  });

  it("FALLBACK with no clean candidate left fails CONTENT_POLICY at once (no retry with backoff)", async () => {
    mod.flag = (text) => (text.includes("answer") ? ["illicit"] : []); // both providers' answers say "answer"
    const u = await t.createUser(undefined, { tier: "pro" });
    const res = await t.gql(u.key, CREATE, { input: openaiText("a third question", { fallbackModels: ["simulated/text"], onFlagged: "FALLBACK" }) });
    const g = res.data!.createGeneration;
    expect(g.status).toBe("FAILED");
    expect(g.error.code).toBe("CONTENT_POLICY");
    expect(g.attempts.map((a: { status: string }) => a.status)).toEqual(["INVALID", "INVALID"]);
    expect(g.moderation).toMatchObject({ flagged: true, flaggedAttempts: 2 });
  });

  it("a classifier that is down or slow fails closed: the input with SERVICE_UNAVAILABLE and nothing created, the output with MODERATION_UNAVAILABLE charged", async () => {
    const u = await t.createUser(undefined, { tier: "pro" });
    for (const scenario of ["503", "slow"] as const) {
      mod.scenario = scenario;
      const t0 = Date.now();
      const res = await t.gql(u.key, CREATE, { input: openaiText(`a question while moderation is ${scenario}`) });
      expect(res.errors![0].extensions).toMatchObject({ code: "SERVICE_UNAVAILABLE", reason: "MODERATION_UNAVAILABLE" });
      if (scenario === "slow") expect(Date.now() - t0).toBeLessThan(9000); // MODERATION_TIMEOUT_MS, not the fake's 10 s
    }
    expect(await rows(t, u.id)).toEqual({ generations: 0, ledger: 0 });
    expect((await quota(t, u.key)).reservedUsd).toBe(0);
    mod.scenario = "ok";
    mod.scenarioFor = (inputs) => (inputs.some((x) => x.includes(OPENAI_ANSWER)) ? "503" : undefined); // down for outputs only
    const res = await t.gql(u.key, CREATE, { input: openaiText("checked going in, not coming out", { fallbackModels: ["simulated/text"], onFlagged: "FALLBACK" }) });
    const g = res.data!.createGeneration;
    expect(g.status).toBe("FAILED");
    expect(g.error.code).toBe("MODERATION_UNAVAILABLE");
    expect(g.attempts).toHaveLength(1); // an unmoderated answer is not re-bought from the next provider
    expect(g.attempts[0]).toMatchObject({ status: "INVALID", errorKind: "moderation_unavailable" });
    expect(g.attempts[0].costUsd).toBeGreaterThan(0);
    expect(g.moderation).toMatchObject({ flagged: false, checked: ["INPUT"], unchecked: ["OUTPUT"] });
  });

  it("a poisoned input in a concurrent burst fails only itself", async () => {
    const u = await t.createUser(undefined, { tier: "pro" });
    const prompts = Array.from({ length: 10 }, (_, i) => (i === 6 ? `burst ${i} [flag:violence]` : `burst ${i} is fine`));
    const results = await Promise.all(prompts.map((p) => t.gql(u.key, CREATE, { input: { modality: "TEXT", model: "simulated/text", prompt: p, wait: 30 } })));
    results.forEach((res, i) => {
      if (i === 6) expect(res.errors![0].extensions).toMatchObject({ code: "CONTENT_POLICY", categories: ["violence"] });
      else {
        expect(res.errors).toBeUndefined();
        expect(res.data!.createGeneration.status).toBe("SUCCEEDED");
        expect(res.data!.createGeneration.moderation).toMatchObject({ flagged: false, checked: ["INPUT", "OUTPUT"] });
      }
    });
    expect((await rows(t, u.id)).generations).toBe(9);
    expect(await quota(t, u.key)).toMatchObject({ reservedUsd: 0, requests: 9 });
  });

  it("counts checks and flags in Prometheus by stage and category", async () => {
    const text = await (await fetch(`http://127.0.0.1:${t.port}/metrics`)).text();
    const value = (re: RegExp) => Number(text.match(re)?.[1] ?? 0);
    expect(value(/switchboard_moderation_flags_total\{stage="input",category="violence"\} (\d+)/)).toBeGreaterThanOrEqual(2);
    expect(value(/switchboard_moderation_flags_total\{stage="output",category="violence"\} (\d+)/)).toBeGreaterThanOrEqual(1);
    expect(value(/switchboard_moderation_checks_total\{stage="input",outcome="error"\} (\d+)/)).toBeGreaterThanOrEqual(2);
    expect(value(/switchboard_moderation_checks_total\{stage="output",outcome="clean"\} (\d+)/)).toBeGreaterThanOrEqual(9);
  });
});

describe("content moderation failing open (MODERATION_ON_ERROR=open)", () => {
  let t: TestApp;
  let fake: OpenAIFake;

  beforeAll(async () => {
    fake = await startOpenAIFake();
    moderationOf(fake).scenario = "503";
    t = await startTestApp({
      providers: { vendors: { openai: { baseUrl: `${fake.url}/v1`, keys: KEYS } }, healthIntervalMs: 0 },
      moderation: { mode: "both", provider: "openai", model: "omni-moderation-latest", timeoutMs: 1500, onError: "open" },
    } as never);
  }, 120_000);
  afterAll(async () => {
    await t?.close();
    await fake?.close();
  });

  it("a classifier that is down lets the text through, recorded as unchecked", async () => {
    const u = await t.createUser(undefined, { tier: "pro" });
    const res = await t.gql(u.key, CREATE, { input: openaiText("moderation is down [flag:violence]") });
    expect(res.errors).toBeUndefined();
    const g = res.data!.createGeneration;
    expect(g.status).toBe("SUCCEEDED");
    expect(g.moderation).toMatchObject({ flagged: false, checked: [], unchecked: ["INPUT", "OUTPUT"] });
    expect(moderationOf(fake).calls).toBeGreaterThanOrEqual(2);
  });
});
