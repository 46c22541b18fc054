/**
 * Provider API-key pools end to end: the real app (Redis key pool, BullMQ worker, Postgres)
 * in front of the fake OpenAI server, which tells keys apart by their Authorization header.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bearerOf, startOpenAIFake, type OpenAIFake } from "../fakes/openai.fake";
import { collect, startTestApp, type GqlResult, type TestApp } from "../helpers/test-app";

const KEY_A = "sk-test-aaaa1111";
const KEY_B = "sk-test-bbbb2222";
const STORED_KEY = "sk-stored-9999zzzz";
const MASTER = "m".repeat(40);

const GEN_FIELDS = `id status provider { id } output { text embedding } error { code message }
  attempts { attemptNo provider model status errorKind keyLabel costUsd }`;
const CREATE = `mutation($input: CreateGenerationInput!) { createGeneration(input: $input) { ${GEN_FIELDS} } }`;
const GET = `query($id: ID!) { generation(id: $id) { ${GEN_FIELDS} } }`;
const KEY_FIELDS = "label last4 source state health inFlight cooldownUntil disabledReason requests successes errors rateLimited";
const PROVIDERS = `{ providers { id configured kind health { status } keys { ${KEY_FIELDS} } } }`;
const SUB = `subscription($id: ID!) { generationUpdated(id: $id) { seq type message generation { status } } }`;

interface Attempt {
  attemptNo: number;
  provider: string;
  model: string;
  status: string;
  errorKind: string | null;
  keyLabel: string | null;
  costUsd: number;
}
interface Gen {
  id: string;
  status: string;
  provider: { id: string } | null;
  output: { text: string | null; embedding: number[] | null } | null;
  error: { code: string; message: string } | null;
  attempts: Attempt[];
}
interface Key {
  label: string;
  last4: string;
  source: string;
  state: string;
  health: number;
  inFlight: number;
  cooldownUntil: string | null;
  disabledReason: string | null;
  requests: number;
  successes: number;
  errors: number;
  rateLimited: number;
}

const twoKeys = [{ label: "a", key: KEY_A }, { label: "b", key: KEY_B }];

/** An app whose openai vendor is the fake (health probes off: only generations reach the fake). */
function openaiApp(fake: OpenAIFake, providers: Record<string, unknown> = {}, keys = twoKeys, opts: Parameters<typeof startTestApp>[1] = {}): Promise<TestApp> {
  return startTestApp({ providers: { vendors: { openai: { baseUrl: `${fake.url}/v1`, keys } }, masterKey: MASTER, healthIntervalMs: 0, ...providers } } as never, opts);
}

const textInput = (prompt: string, extra: Record<string, unknown> = {}) => ({ modality: "TEXT", model: "openai/gpt-4o-mini", prompt, cache: "BYPASS", ...extra });

async function generate(t: TestApp, prompt: string, key = t.adminKey, sink?: unknown[]): Promise<Gen> {
  const res = await t.gql<{ createGeneration: Gen }>(key, CREATE, { input: textInput(prompt, { wait: 30 }) });
  sink?.push(res);
  expect(res.errors).toBeUndefined();
  return res.data!.createGeneration;
}

async function openaiKeys(t: TestApp, sink?: unknown[]): Promise<Key[]> {
  const res = await t.gql<{ providers: { id: string; keys: Key[] | null }[] }>(t.adminKey, PROVIDERS);
  sink?.push(res);
  expect(res.errors).toBeUndefined();
  const p = res.data!.providers.find((x) => x.id === "openai");
  expect(p).toBeDefined();
  return p!.keys!;
}

const keyOf = (keys: Key[], label: string): Key => {
  const k = keys.find((x) => x.label === label);
  expect(k, `key ${label} in ${JSON.stringify(keys)}`).toBeDefined();
  return k!;
};

const chatKeys = (fake: OpenAIFake): (string | undefined)[] => fake.requests.filter((r) => r.path.startsWith("/v1/chat/completions")).map(bearerOf);

async function until<T>(what: string, probe: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 10_000, everyMs = 50): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: T;
  for (;;) {
    last = await probe();
    if (ok(last)) return last;
    if (Date.now() > end) throw new Error(`${what}: still ${JSON.stringify(last).slice(0, 1500)} after ${timeoutMs}ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

async function adminMutation(t: TestApp, mutation: string, vars: Record<string, unknown>, key = t.adminKey): Promise<GqlResult> {
  return t.gql(key, mutation, vars);
}
const ENABLE = `mutation($p: ID!, $l: String!) { enableProviderKey(provider: $p, label: $l) { id } }`;
const DISABLE = `mutation($p: ID!, $l: String!) { disableProviderKey(provider: $p, label: $l) { id } }`;
const ADD = `mutation($p: ID!, $l: String!, $k: String!) { addProviderKey(provider: $p, label: $l, key: $k) { id configured keys { ${KEY_FIELDS} } } }`;
const REMOVE = `mutation($p: ID!, $l: String!) { removeProviderKey(provider: $p, label: $l) { id keys { label } } }`;

describe("key pool: round-robin, rate limits and cooldowns (2 keys)", () => {
  let fake: OpenAIFake;
  let t: TestApp;
  beforeAll(async () => {
    fake = await startOpenAIFake();
    t = await openaiApp(fake);
  });
  afterAll(async () => {
    await t?.close();
    await fake?.close();
  });

  it("round-robin: 4 sequential generations alternate between both keys", async () => {
    const before = chatKeys(fake).length;
    const gens: Gen[] = [];
    for (let i = 0; i < 4; i++) gens.push(await generate(t, `round robin ${i}`));
    for (const g of gens) {
      expect(g.status).toBe("SUCCEEDED");
      expect(g.provider?.id).toBe("openai");
      expect(g.output?.text).toMatch(/fake OpenAI answer/);
      expect(g.attempts).toHaveLength(1);
      expect(g.attempts[0]).toMatchObject({ status: "SUCCEEDED", provider: "openai", model: "gpt-4o-mini" });
    }
    const seen = chatKeys(fake).slice(before);
    expect(seen).toHaveLength(4);
    expect(new Set(seen)).toEqual(new Set([KEY_A, KEY_B]));
    for (let i = 1; i < seen.length; i++) expect(seen[i]).not.toBe(seen[i - 1]);
    const labels = gens.map((g) => g.attempts[0].keyLabel);
    expect(new Set(labels)).toEqual(new Set(["a", "b"]));
    // The label recorded on the attempt is the key the fake actually saw.
    expect(labels.map((l) => (l === "a" ? KEY_A : KEY_B))).toEqual(seen);

    const keys = await openaiKeys(t);
    expect(keyOf(keys, "a")).toMatchObject({ source: "ENV", last4: "1111", state: "ACTIVE", requests: 2, successes: 2, errors: 0, rateLimited: 0, inFlight: 0, health: 1 });
    expect(keyOf(keys, "b")).toMatchObject({ source: "ENV", last4: "2222", state: "ACTIVE", requests: 2, successes: 2 });
  });

  it("429 on key a only: the same run succeeds on key b at once, and key a cools down for Retry-After", async () => {
    fake.retryAfterSeconds = 30;
    fake.scenarioForKey = { [KEY_A]: "429" };
    try {
      // Round-robin may hand the first one to b; the next one then starts on a.
      let g = await generate(t, "rate limited key 1");
      if (g.attempts.length === 1) {
        expect(g.attempts[0]).toMatchObject({ status: "SUCCEEDED", keyLabel: "b" });
        g = await generate(t, "rate limited key 2");
      }
      const at = Date.now();
      expect(g.status).toBe("SUCCEEDED");
      expect(g.error).toBeNull();
      expect(g.attempts.map((a) => [a.attemptNo, a.status, a.errorKind, a.keyLabel])).toEqual([
        [1, "FAILED", "rate_limited", "a"],
        [2, "SUCCEEDED", null, "b"],
      ]);

      const keys = await openaiKeys(t);
      const a = keyOf(keys, "a");
      expect(a.state).toBe("COOLING_DOWN");
      expect(a.rateLimited).toBe(1);
      const until = Date.parse(a.cooldownUntil!);
      expect(until - at).toBeGreaterThan(25_000);
      expect(until - at).toBeLessThanOrEqual(30_500);
      expect(keyOf(keys, "b")).toMatchObject({ state: "ACTIVE", cooldownUntil: null, rateLimited: 0 });

      // While a cools down, everything goes to b without touching a.
      const sentToA = chatKeys(fake).filter((k) => k === KEY_A).length;
      for (let i = 0; i < 2; i++) expect((await generate(t, `while a cools ${i}`)).attempts.map((x) => x.keyLabel)).toEqual(["b"]);
      expect(chatKeys(fake).filter((k) => k === KEY_A).length).toBe(sentToA);
    } finally {
      fake.scenarioForKey = {};
      fake.retryAfterSeconds = 7;
    }
    // An admin re-enabling the key clears its cooldown.
    expect((await adminMutation(t, ENABLE, { p: "openai", l: "a" })).errors).toBeUndefined();
    expect(keyOf(await openaiKeys(t), "a")).toMatchObject({ state: "ACTIVE", cooldownUntil: null });
  });

  it("every key cooling down: the generation waits (RETRYING) instead of failing, the queue keeps serving others, then it succeeds", async () => {
    fake.retryAfterSeconds = 2;
    fake.scenario = "429";
    let id: string;
    try {
      const created = await t.gql<{ createGeneration: Gen }>(t.adminKey, CREATE, { input: textInput("everyone is rate limited") });
      expect(created.errors).toBeUndefined();
      id = created.data!.createGeneration.id;
      // The first RETRYING may come before the subscription; each 2 s cycle sends another.
      const sub = collect<{ type: string; message: string | null; generation: { status: string } }>(
        t.wsClient(t.adminKey), SUB, { id }, (e) => e.type === "RETRYING" || ["SUCCEEDED", "FAILED", "CANCELLED"].includes(e.type), 10_000,
      );
      const events = await sub.done;
      const retrying = events.at(-1)!;
      expect(retrying.type).toBe("RETRYING");
      expect(retrying.message).toMatch(/cooling down/);
      expect(retrying.generation.status).toBe("QUEUED");

      // Nothing global is paused or rate-limited: other work runs at once.
      expect(await t.app.queue.queue.isPaused()).toBe(false);
      const t0 = Date.now();
      const other = await t.gql<{ createGeneration: Gen }>(t.adminKey, CREATE, {
        input: { modality: "TEXT", model: "simulated/text", prompt: "not rate limited", cache: "BYPASS", wait: 10, params: { simulate: { latencyMs: 20 } } },
      });
      expect(other.errors).toBeUndefined();
      expect(other.data!.createGeneration.status).toBe("SUCCEEDED");
      expect(Date.now() - t0).toBeLessThan(1500);

      const still = (await t.gql<{ generation: Gen }>(t.adminKey, GET, { id })).data!.generation;
      expect(["QUEUED", "RUNNING"]).toContain(still.status);
      expect(still.error).toBeNull();
      expect(still.attempts.some((a) => a.status === "SKIPPED" && a.errorKind === "rate_limited")).toBe(true);
      expect(still.attempts.every((a) => a.status !== "SUCCEEDED")).toBe(true);
      const keys = await openaiKeys(t);
      expect(keys.some((k) => k.state === "COOLING_DOWN")).toBe(true);
    } finally {
      fake.scenario = "ok";
    }
    const t1 = Date.now();
    const done = await until("the rate-limited generation", async () => (await t.gql<{ generation: Gen }>(t.adminKey, GET, { id: id! })).data!.generation, (g) => !["QUEUED", "RUNNING"].includes(g.status), 8000);
    expect(done.status).toBe("SUCCEEDED");
    expect(Date.now() - t1).toBeLessThan(5000);
    expect(done.output?.text).toMatch(/everyone is rate limited/);
    const last = done.attempts.at(-1)!;
    expect(last.status).toBe("SUCCEEDED");
    expect(["a", "b"]).toContain(last.keyLabel);
    expect(done.attempts.filter((a) => a.status === "FAILED").every((a) => a.errorKind === "rate_limited")).toBe(true);
    fake.retryAfterSeconds = 7;
  });
});

describe("key pool: repeated 401 disables a key (KEY_AUTH_FAILURES_TO_DISABLE 2)", () => {
  let fake: OpenAIFake;
  let t: TestApp;
  beforeAll(async () => {
    fake = await startOpenAIFake();
    t = await openaiApp(fake, { authFailuresToDisable: 2 });
  });
  afterAll(async () => {
    await t?.close();
    await fake?.close();
  });

  it("key a is disabled after 2 auth failures, an alert names it by label and last 4 only, and later generations use key b", async () => {
    fake.scenarioForKey = { [KEY_A]: "401" };
    const seen: unknown[] = []; // every API response, searched for the key afterwards
    const gens: Gen[] = [];
    // Round-robin alternates, so key a serves every other call until it is disabled.
    for (let i = 0; i < 8; i++) {
      gens.push(await generate(t, `auth ${i}`, t.adminKey, seen));
      if (keyOf(await openaiKeys(t, seen), "a").state === "DISABLED") break;
    }
    expect(chatKeys(fake).filter((k) => k === KEY_A)).toHaveLength(2);
    const onA = gens.filter((g) => g.attempts.some((a) => a.keyLabel === "a"));
    expect(onA).toHaveLength(2);
    // A 401 is the key's fault, not the request's: the same run moves to key b and succeeds.
    for (const g of onA) expect(g).toMatchObject({ status: "SUCCEEDED", attempts: [{ status: "FAILED", errorKind: "auth", keyLabel: "a" }, { status: "SUCCEEDED", keyLabel: "b" }] });
    for (const g of gens.filter((x) => !onA.includes(x))) expect(g).toMatchObject({ status: "SUCCEEDED", attempts: [{ status: "SUCCEEDED", keyLabel: "b" }] });

    const keys = await openaiKeys(t, seen);
    const a = keyOf(keys, "a");
    expect(a.state).toBe("DISABLED");
    expect(a.disabledReason).toMatch(/authentication/i);
    expect(a.last4).toBe("1111");
    expect(keyOf(keys, "b").state).toBe("ACTIVE");

    const alerts = await t.gql<{ alerts: { kind: string; severity: string; provider: string; message: string; details: Record<string, unknown> }[] }>(
      t.adminKey, `{ alerts(first: 10, kind: "provider_key_disabled") { id kind severity provider message details createdAt } }`,
    );
    seen.push(alerts);
    expect(alerts.errors).toBeUndefined();
    expect(alerts.data!.alerts).toHaveLength(1);
    const alert = alerts.data!.alerts[0];
    expect(alert).toMatchObject({ kind: "provider_key_disabled", provider: "openai", details: { label: "a", last4: "1111" } });
    expect(alert.message).toContain('"a"');
    expect(alert.message).toContain("1111");
    const byProvider = await t.gql<{ alerts: unknown[] }>(t.adminKey, `{ alerts(provider: "openai") { id message } }`);
    seen.push(byProvider);
    expect(byProvider.data!.alerts).toHaveLength(1);

    // From now on only b is used.
    const sentToA = chatKeys(fake).filter((k) => k === KEY_A).length;
    for (let i = 0; i < 3; i++) {
      const g = await generate(t, `after disable ${i}`, t.adminKey, seen);
      expect(g.status).toBe("SUCCEEDED");
      expect(g.attempts.map((x) => x.keyLabel)).toEqual(["b"]);
    }
    expect(chatKeys(fake).filter((k) => k === KEY_A).length).toBe(sentToA);

    // Nothing the API said contains a full key (nor more of it than the last four characters).
    const json = JSON.stringify(seen);
    for (const secret of [KEY_A, KEY_B, "aaaa1111", "bbbb2222"]) expect(json).not.toContain(secret);
    const rows: { message: string; details: unknown }[] = await t.app.ds.query(`SELECT message, details FROM alerts`);
    expect(JSON.stringify(rows)).not.toContain("aaaa1111");
    const attempts: { error_message: string | null }[] = await t.app.ds.query(`SELECT error_message FROM generation_attempts`);
    expect(JSON.stringify(attempts)).not.toContain("aaaa1111");
    fake.scenarioForKey = {};
  });
});

describe("key pool: admin key management", () => {
  let fake: OpenAIFake;
  let t: TestApp;
  let noMaster: TestApp;
  beforeAll(async () => {
    fake = await startOpenAIFake();
    [t, noMaster] = await Promise.all([
      openaiApp(fake),
      startTestApp({ providers: { vendors: { openai: { baseUrl: `${fake.url}/v1`, keys: twoKeys } }, healthIntervalMs: 0 } } as never, { workers: false }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([t?.close(), noMaster?.close()]);
    await fake?.close();
  });

  it("stores a key encrypted, uses it, removes it; env keys cannot be removed; only admins manage keys", async () => {
    const added = await adminMutation(t, ADD, { p: "openai", l: "stored", k: STORED_KEY });
    expect(added.errors).toBeUndefined();
    expect(JSON.stringify(added)).not.toContain(STORED_KEY);
    const stored = keyOf(added.data!.addProviderKey.keys, "stored");
    expect(stored).toMatchObject({ source: "STORED", last4: "zzzz", state: "ACTIVE" });
    expect(keyOf(await openaiKeys(t), "stored")).toMatchObject({ source: "STORED", last4: "zzzz" });

    const rows: { ciphertext: string; last4: string }[] = await t.app.ds.query(`SELECT ciphertext, last4 FROM provider_keys WHERE provider = 'openai' AND label = 'stored'`);
    expect(rows).toHaveLength(1);
    expect(rows[0].last4).toBe("zzzz");
    expect(rows[0].ciphertext).toMatch(/^v1\./);
    expect(rows[0].ciphertext).not.toContain(STORED_KEY);
    expect(rows[0].ciphertext).not.toContain("9999zzzz");
    expect(rows[0].ciphertext).not.toContain(Buffer.from(STORED_KEY).toString("base64url"));

    // A duplicate label is a conflict.
    const dup = await adminMutation(t, ADD, { p: "openai", l: "stored", k: "sk-other-12345678" });
    expect(dup.errors?.[0].extensions?.code).toBe("CONFLICT");

    // With the env keys disabled, the stored key serves.
    for (const l of ["a", "b"]) expect((await adminMutation(t, DISABLE, { p: "openai", l })).errors).toBeUndefined();
    const keys = await openaiKeys(t);
    expect(keyOf(keys, "a")).toMatchObject({ state: "DISABLED", disabledReason: "disabled by an admin" });
    expect(keyOf(keys, "b").state).toBe("DISABLED");
    const before = fake.requests.length;
    const g = await generate(t, "on the stored key");
    expect(g.status).toBe("SUCCEEDED");
    expect(g.attempts.map((a) => a.keyLabel)).toEqual(["stored"]);
    const sent = fake.requests.slice(before).filter((r) => r.path.startsWith("/v1/chat/completions"));
    expect(sent.map(bearerOf)).toEqual([STORED_KEY]);
    expect(keyOf(await openaiKeys(t), "stored")).toMatchObject({ requests: 1, successes: 1 });

    // Removing: stored keys go, env keys are BAD_USER_INPUT, unknown ones NOT_FOUND.
    const removed = await adminMutation(t, REMOVE, { p: "openai", l: "stored" });
    expect(removed.errors).toBeUndefined();
    expect(removed.data!.removeProviderKey.keys.map((k: { label: string }) => k.label).sort()).toEqual(["a", "b"]);
    expect(await t.app.ds.query(`SELECT id FROM provider_keys`)).toHaveLength(0);
    const envRemove = await adminMutation(t, REMOVE, { p: "openai", l: "a" });
    expect(envRemove.errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");
    expect(envRemove.errors?.[0].message).toMatch(/environment/);
    const unknown = await adminMutation(t, REMOVE, { p: "openai", l: "nope" });
    expect(unknown.errors?.[0].extensions?.code).toBe("NOT_FOUND");

    // Re-enabled env keys serve again.
    for (const l of ["a", "b"]) expect((await adminMutation(t, ENABLE, { p: "openai", l })).errors).toBeUndefined();
    const again = await generate(t, "env keys are back");
    expect(again.status).toBe("SUCCEEDED");
    expect(["a", "b"]).toContain(again.attempts[0].keyLabel);
  });

  it("non-admins cannot manage keys and see keys: null", async () => {
    const user = await t.createUser();
    for (const [q, v] of [
      [ADD, { p: "openai", l: "mine", k: "sk-mine-00001111" }],
      [DISABLE, { p: "openai", l: "a" }],
      [ENABLE, { p: "openai", l: "a" }],
      [REMOVE, { p: "openai", l: "a" }],
    ] as const) {
      const res = await t.gql(user.key, q, v);
      expect(res.errors?.[0].extensions?.code).toBe("FORBIDDEN");
    }
    expect(await t.app.ds.query(`SELECT id FROM provider_keys`)).toHaveLength(0);
    const res = await t.gql<{ providers: { id: string; keys: Key[] | null }[] }>(user.key, PROVIDERS);
    expect(res.errors).toBeUndefined();
    const openai = res.data!.providers.find((p) => p.id === "openai")!;
    expect(openai).toBeDefined();
    expect(openai.keys).toBeNull();
    const alerts = await t.gql(user.key, `{ alerts { id } }`);
    expect(alerts.errors?.[0].extensions?.code).toBe("FORBIDDEN");
  });

  it("adding a key without SWITCHBOARD_MASTER_KEY is BAD_USER_INPUT naming it", async () => {
    const res = await noMaster.gql(noMaster.adminKey, ADD, { p: "openai", l: "stored", k: STORED_KEY });
    expect(res.errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");
    expect(res.errors?.[0].message).toContain("SWITCHBOARD_MASTER_KEY");
    expect(JSON.stringify(res)).not.toContain(STORED_KEY);
    expect(await noMaster.app.ds.query(`SELECT id FROM provider_keys`)).toHaveLength(0);
  });
});

describe("key pool: least-loaded strategy and the per-key concurrency cap", () => {
  let spreadFake: OpenAIFake;
  let capFake: OpenAIFake;
  let spread: TestApp;
  let capped: TestApp;
  beforeAll(async () => {
    [spreadFake, capFake] = await Promise.all([startOpenAIFake(), startOpenAIFake()]);
    spreadFake.latencyMs = 400;
    capFake.latencyMs = 200;
    [spread, capped] = await Promise.all([
      openaiApp(spreadFake, { keyStrategy: "least-loaded" }),
      openaiApp(capFake, { maxConcurrentPerKey: 1 }, [{ label: "only", key: KEY_A }]),
    ]);
  });
  afterAll(async () => {
    await Promise.all([spread?.close(), capped?.close()]);
    await Promise.all([spreadFake?.close(), capFake?.close()]);
  });

  it("least-loaded: 6 overlapping generations spread over both keys", async () => {
    const gens = await Promise.all(Array.from({ length: 6 }, (_, i) => generate(spread, `least loaded ${i}`)));
    for (const g of gens) expect(g.status).toBe("SUCCEEDED");
    const seen = chatKeys(spreadFake);
    expect(seen).toHaveLength(6);
    expect(spreadFake.maxInFlight).toBeGreaterThan(1); // the calls did overlap
    const onA = seen.filter((k) => k === KEY_A).length;
    const onB = seen.filter((k) => k === KEY_B).length;
    expect(onA + onB).toBe(6);
    expect(onA).toBeGreaterThanOrEqual(2);
    expect(onB).toBeGreaterThanOrEqual(2);
    const labels = gens.map((g) => g.attempts.at(-1)!.keyLabel);
    expect(labels.filter((l) => l === "a")).toHaveLength(onA);
  });

  it("maxConcurrentPerKey 1: 3 concurrent generations all succeed, one upstream call at a time", async () => {
    const gens = await Promise.all(Array.from({ length: 3 }, (_, i) => generate(capped, `capped ${i}`)));
    for (const g of gens) {
      expect(g.status).toBe("SUCCEEDED");
      expect(g.attempts.at(-1)).toMatchObject({ status: "SUCCEEDED", keyLabel: "only" });
      // Waiting for the slot is not a failure.
      expect(g.attempts.filter((a) => a.status === "FAILED")).toHaveLength(0);
    }
    expect(chatKeys(capFake)).toHaveLength(3);
    expect(capFake.maxInFlight).toBe(1);
    const keys = await openaiKeys(capped);
    expect(keyOf(keys, "only")).toMatchObject({ state: "ACTIVE", inFlight: 0, requests: 3, successes: 3 });
  });
});

describe("key pool: a specific label (OPENAI_KEY_STRATEGY=label:b)", () => {
  let fake: OpenAIFake;
  let t: TestApp;
  beforeAll(async () => {
    fake = await startOpenAIFake();
    t = await startTestApp({
      providers: { vendors: { openai: { baseUrl: `${fake.url}/v1`, keys: twoKeys, keyStrategy: "label:b" } }, masterKey: MASTER, healthIntervalMs: 0 },
    } as never);
  });
  afterAll(async () => {
    await t?.close();
    await fake?.close();
  });

  it("every call uses the labelled key", async () => {
    for (let i = 0; i < 4; i++) expect((await generate(t, `label ${i}`)).attempts.map((a) => a.keyLabel)).toEqual(["b"]);
    expect(chatKeys(fake).every((k) => k === KEY_B)).toBe(true);
  });
});
