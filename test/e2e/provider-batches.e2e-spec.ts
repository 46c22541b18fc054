/**
 * `priority: BATCH` end to end, through GraphQL and a graphql-ws subscriber, against the OpenAI
 * and Anthropic fakes speaking their batch APIs' wire formats (files + /v1/batches; Message
 * Batches): generations collected per provider and model become one provider batch each,
 * every generation ends from its own line at the batch price, a failing line fails only its
 * generation, a generation cancelled while collected is never submitted, and a batch whose
 * poller died (the app stopped, its Redis state gone) is recovered by the sweeper of a fresh
 * app on the same database, each generation charged once.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { atBatchPrice, costOf } from "../../src/domain/generations/pricing";
import { anthropicBatches } from "../fakes/anthropic-batch.fake";
import { startAnthropicFake, type AnthropicFake } from "../fakes/anthropic.fake";
import { FAIL_LINE, openAIBatches } from "../fakes/openai-batch.fake";
import { startOpenAIFake, type OpenAIFake } from "../fakes/openai.fake";
import { createTestDatabase, uniquePrefix } from "../helpers/infra";
import { collect, startTestApp, type TestApp } from "../helpers/test-app";

const CREATE = `mutation($input: CreateGenerationInput!) { createGeneration(input: $input) { id status priority estimatedCostUsd } }`;
const CANCEL = `mutation($id: ID!) { cancelGeneration(id: $id) { id status } }`;
const GET = `query($id: ID!) { generation(id: $id) { id status priority costUsd estimatedCostUsd output { text usage { inputTokens outputTokens } } error { code message }
  attempts { provider model status costUsd keyLabel } } }`;
const ESTIMATE = `query($input: CreateGenerationInput!) { estimateCost(input: $input) { estimatedCostUsd candidates { model estimatedCostUsd } } }`;
const SUB = `subscription($id: ID!) { generationUpdated(id: $id) { seq type message generation { status } } }`;
const ROTATE = `mutation { rotateCallbackSecret { secret } }`;

const OPENAI = "openai/gpt-4o-mini";
const ANTHROPIC = "anthropic/claude-haiku-4-5";
const micros = (usd: number) => Math.round(usd * 1_000_000);

const vendors = (openai: OpenAIFake, anthropic: AnthropicFake) => ({
  openai: { baseUrl: `${openai.url}/v1`, keys: [{ label: "oa-1", key: "sk-test-openai-batch-1234" }] },
  anthropic: { baseUrl: anthropic.url, keys: [{ label: "an-1", key: "sk-ant-test-batch-5678" }] },
});

/** Polls a generation until it is terminal (a batch finishes when the provider's does: no wait). */
async function terminal(t: TestApp, key: string, id: string, timeoutMs = 60_000): Promise<any> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const g = (await t.gql(key, GET, { id })).data!.generation;
    if (["SUCCEEDED", "FAILED", "CANCELLED"].includes(g.status)) return g;
    if (Date.now() > end) throw new Error(`generation ${id} still ${g.status} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function until<T>(fn: () => Promise<T> | T, ok: (v: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`condition not met after ${timeoutMs} ms: ${JSON.stringify(v).slice(0, 500)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The batch price of what a generation reported using. */
function batchPrice(t: TestApp, model: string, usage: { inputTokens: number; outputTokens: number }): { batch: number; full: number } {
  const info = t.app.services.registry.model(model)!;
  const full = costOf(info, usage);
  return { batch: atBatchPrice(full), full };
}

describe("provider batch APIs (priority BATCH)", () => {
  let openai: OpenAIFake;
  let anthropic: AnthropicFake;
  let t: TestApp;
  let hook: http.Server;
  const hooks: { path: string; body: string }[] = [];

  beforeAll(async () => {
    [openai, anthropic] = await Promise.all([startOpenAIFake(), startAnthropicFake()]);
    hook = http.createServer((req, res) => {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        hooks.push({ path: (req.url ?? "/").split("?")[0], body });
        res.writeHead(200).end("ok");
      });
    });
    await new Promise<void>((r) => hook.listen(0, "127.0.0.1", () => r()));
    // A batch is submitted when 3 generations are in it; the wait is long, so collection is decided by size alone.
    t = await startTestApp({
      batch: { maxSize: 3, maxWaitMs: 600_000, pollMs: 100 },
      providers: { vendors: vendors(openai, anthropic) },
      webhooks: { allowedHosts: ["127.0.0.1"], maxAttempts: 2, backoffBaseMs: 20, timeoutMs: 2000 },
    });
  });
  afterAll(async () => {
    await t?.close();
    await Promise.all([openai?.close(), anthropic?.close(), new Promise((r) => hook?.close(r))]);
  });

  const create = async (key: string, input: Record<string, unknown>) => {
    const res = await t.gql(key, CREATE, { input: { modality: "TEXT", priority: "BATCH", text: { maxTokens: 64 }, ...input } });
    expect(res.errors).toBeUndefined();
    return res.data!.createGeneration as { id: string; status: string; priority: string; estimatedCostUsd: number };
  };

  it("estimateCost of a BATCH generation is the batch price", async () => {
    const input = { modality: "TEXT", model: OPENAI, prompt: "How much?", text: { maxTokens: 500 } };
    const normal = (await t.gql(t.adminKey, ESTIMATE, { input })).data!.estimateCost;
    const batch = (await t.gql(t.adminKey, ESTIMATE, { input: { ...input, priority: "BATCH" } })).data!.estimateCost;
    expect(micros(normal.estimatedCostUsd)).toBeGreaterThan(0);
    expect(micros(batch.estimatedCostUsd)).toBe(atBatchPrice(micros(normal.estimatedCostUsd)));
    expect(batch.candidates).toEqual([{ model: OPENAI, estimatedCostUsd: batch.estimatedCostUsd }]);
  });

  it("a batch across two models becomes two provider batches; each generation succeeds with its own text at the batch price, seen by a subscriber and a callback", async () => {
    const u = await t.createUser(undefined, { tier: "pro" });
    await t.gql(u.key, ROTATE);
    const callbackUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/batch-cb`;
    const first = await create(u.key, { model: OPENAI, prompt: "openai prompt 0", callbackUrl });
    expect(first).toMatchObject({ status: "QUEUED", priority: "BATCH" });
    // Subscribed (a first event seen) before the batch fills and is submitted.
    const sub = collect(t.wsClient(u.key), SUB, { id: first.id }, (e: any) => ["SUCCEEDED", "FAILED"].includes(e.type), 90_000);
    await until(() => sub.events.length, (n) => n >= 1);
    const gens = [first];
    for (let i = 1; i < 3; i++) gens.push(await create(u.key, { model: OPENAI, prompt: `openai prompt ${i}` }));
    for (let i = 0; i < 3; i++) gens.push(await create(u.key, { model: ANTHROPIC, prompt: `anthropic prompt ${i}` }));

    const done = await Promise.all(gens.map((g) => terminal(t, u.key, g.id)));
    for (const [i, g] of done.entries()) {
      const [model, name, prompt] = i < 3 ? [OPENAI, "gpt-4o-mini", `openai prompt ${i}`] : [ANTHROPIC, "claude-haiku-4-5", `anthropic prompt ${i - 3}`];
      expect(g.status, JSON.stringify(g)).toBe("SUCCEEDED");
      expect(g.output.text).toBe(`Batch answer from ${name} to: "${prompt}"`);
      const { batch, full } = batchPrice(t, model, g.output.usage);
      expect(batch).toBeLessThan(full);
      expect(micros(g.costUsd)).toBe(batch);
      expect(g.attempts).toMatchObject([{ provider: model.split("/")[0], status: "SUCCEEDED" }]);
    }
    // One provider batch per provider and model, holding exactly its three requests.
    const oa = openAIBatches(openai);
    expect(oa.batches.size).toBe(1);
    const [oaId] = [...oa.batches.keys()];
    expect(oa.inputs.get(oaId)!.map((l) => l.custom_id).sort()).toEqual(gens.slice(0, 3).map((g) => g.id).sort());
    expect(oa.inputs.get(oaId)!.every((l) => l.body.model === "gpt-4o-mini" && l.url === "/v1/chat/completions" && !l.body.stream)).toBe(true);
    const an = anthropicBatches(anthropic);
    expect(an.batches.size).toBe(1);
    expect([...an.requests.values()][0].map((r) => r.custom_id).sort()).toEqual(gens.slice(3).map((g) => g.id).sort());

    const events = await sub.done;
    const types = events.map((e: any) => e.type);
    expect(types).toContain("STARTED");
    expect(events.find((e: any) => e.type === "STARTED").generation.status).toBe("RUNNING");
    expect(types.at(-1)).toBe("SUCCEEDED");

    const hit = await until(() => hooks.filter((h) => h.path === "/batch-cb"), (h) => h.length >= 1);
    expect(JSON.parse(hit[0].body)).toMatchObject({ type: "generation.succeeded", data: { generation: { id: first.id } } });

    // Charged once each, at the batch price; nothing left reserved.
    const [q] = await t.app.ds.query(`SELECT spent_micros::bigint AS spent, reserved_micros::bigint AS reserved FROM quota_periods WHERE user_id = $1`, [u.id]);
    expect(Number(q.spent)).toBe(done.reduce((s, g) => s + micros(g.costUsd), 0));
    expect(Number(q.reserved)).toBe(0);
  });

  it("one erroring line fails only its own generation", async () => {
    const u = await t.createUser(undefined, { tier: "pro" });
    const before = openAIBatches(openai).batches.size;
    const gens = [
      await create(u.key, { model: OPENAI, prompt: "fine one" }),
      await create(u.key, { model: OPENAI, prompt: `please fail ${FAIL_LINE}` }),
      await create(u.key, { model: OPENAI, prompt: "fine two" }),
    ];
    const [a, bad, c] = await Promise.all(gens.map((g) => terminal(t, u.key, g.id)));
    expect(openAIBatches(openai).batches.size).toBe(before + 1);
    expect([a.status, c.status]).toEqual(["SUCCEEDED", "SUCCEEDED"]);
    expect(a.output.text).toContain("fine one");
    expect(c.output.text).toContain("fine two");
    expect(bad.status).toBe("FAILED");
    expect(bad.error.message).toMatch(/asked for a failure/);
    expect(bad.costUsd).toBe(0);
    const [q] = await t.app.ds.query(`SELECT spent_micros::bigint AS spent, reserved_micros::bigint AS reserved FROM quota_periods WHERE user_id = $1`, [u.id]);
    expect([Number(q.spent), Number(q.reserved)]).toEqual([micros(a.costUsd) + micros(c.costUsd), 0]);
  });

  it("a generation cancelled while its batch collects is CANCELLED, its reservation released, and never submitted", async () => {
    const u = await t.createUser(undefined, { tier: "pro" });
    const before = anthropicBatches(anthropic).batches.size;
    const gone = await create(u.key, { model: ANTHROPIC, prompt: "cancel me before the batch goes" });
    const cancelled = await t.gql(u.key, CANCEL, { id: gone.id });
    expect(cancelled.data!.cancelGeneration.status).toBe("CANCELLED");
    const [held] = await t.app.ds.query(`SELECT reserved_micros::bigint AS reserved FROM quota_periods WHERE user_id = $1`, [u.id]);
    expect(Number(held.reserved)).toBe(0);
    // It left the batch: three more fill it.
    const rest = [];
    for (let i = 0; i < 3; i++) rest.push(await create(u.key, { model: ANTHROPIC, prompt: `after the cancel ${i}` }));
    const done = await Promise.all(rest.map((g) => terminal(t, u.key, g.id)));
    expect(done.map((g) => g.status)).toEqual(["SUCCEEDED", "SUCCEEDED", "SUCCEEDED"]);
    const an = anthropicBatches(anthropic);
    expect(an.batches.size).toBe(before + 1);
    const sent = [...an.requests.values()].flat().map((r) => r.custom_id);
    expect(sent).not.toContain(gone.id);
    expect((await terminal(t, u.key, gone.id)).status).toBe("CANCELLED");
  });

  it("a provider without a batch API runs BATCH as LOW, at the list price", async () => {
    const g = (await t.gql(t.adminKey, `mutation($input: CreateGenerationInput!) { createGeneration(input: $input) { id status priority costUsd } }`, {
      input: { modality: "TEXT", model: "simulated/text", prompt: "no batch api here", priority: "BATCH", wait: 30 },
    })).data!.createGeneration;
    expect(g).toMatchObject({ status: "SUCCEEDED", priority: "BATCH" });
  });
});

describe("provider batches: a poller that died", () => {
  it("the sweeper of a fresh app on the same database recovers the submitted batch and finishes it, each generation charged once", async () => {
    const [openai, anthropic] = await Promise.all([startOpenAIFake(), startAnthropicFake()]);
    const db = await createTestDatabase();
    const cfg = { batch: { maxSize: 3, maxWaitMs: 600_000, pollMs: 100 }, providers: { vendors: vendors(openai, anthropic) } };
    const oa = openAIBatches(openai);
    oa.hold = true; // the provider is still working on it when the first app goes
    let t2: TestApp | undefined;
    try {
      const t1 = await startTestApp(cfg, { db });
      const u = await t1.createUser(undefined, { tier: "pro" });
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        const r = await t1.gql(u.key, CREATE, { input: { modality: "TEXT", model: OPENAI, prompt: `survivor ${i}`, priority: "BATCH", text: { maxTokens: 64 } } });
        ids.push(r.data!.createGeneration.id);
      }
      // Submitted (RUNNING) and polled at least once.
      await until(async () => (await t1.app.ds.query(`SELECT state FROM provider_batches`)).map((r: any) => r.state), (s) => s.length === 1 && s[0] === "SUBMITTED");
      const [pb] = [...oa.batches.keys()];
      await until(() => oa.retrievals.get(pb) ?? 0, (n) => n >= 1);
      await t1.close(); // its poll job goes with its Redis prefix
      // Counted before the fresh app starts: its start-up sweep may poll (and finish) the batch at once.
      const polledBefore = oa.retrievals.get(pb) ?? 0;

      oa.hold = false;
      t2 = await startTestApp({ ...cfg, sweeper: { graceMs: 0 } }, { db, prefix: uniquePrefix() });
      // Its periodic sweep may have run first (the scheduler fires on start): between them, the batch was re-enqueued once.
      const swept = await t2.app.sweeper.sweep();
      expect(swept.requeued).toBe(0); // its members were left to their batch, not queued as generations
      const recovered = (await t2.app.metrics.sweeperRecovered.get()).values.find((v) => v.labels.action === "batch_requeued")?.value ?? 0;
      expect(recovered).toBe(1);
      const done = await Promise.all(ids.map((id) => terminal(t2!, t2!.adminKey, id)));
      expect(done.map((g) => g.status)).toEqual(["SUCCEEDED", "SUCCEEDED", "SUCCEEDED"]);
      expect(oa.retrievals.get(pb)!).toBeGreaterThan(polledBefore);
      expect(oa.batches.size).toBe(1); // never submitted twice
      // Each charged once: one charge per generation in the ledger, and the period's spend is their sum.
      const charges = await t2.app.ds.query(`SELECT generation_id, count(*)::int AS n FROM spend_ledger WHERE kind = 'charge' GROUP BY 1`);
      expect(charges.map((c: any) => c.n)).toEqual([1, 1, 1]);
      const [q] = await t2.app.ds.query(`SELECT spent_micros::bigint AS spent, reserved_micros::bigint AS reserved FROM quota_periods WHERE user_id = $1`, [u.id]);
      expect([Number(q.spent), Number(q.reserved)]).toEqual([done.reduce((s, g) => s + micros(g.costUsd), 0), 0]);
      expect(Number(q.spent)).toBeGreaterThan(0);
      // A second sweep finds nothing to recover.
      expect((await t2.app.sweeper.sweep()).batches).toBe(0);
    } finally {
      await t2?.close();
      await db.drop();
      await Promise.all([openai.close(), anthropic.close()]);
    }
  });
});

describe("provider batches: the provider accepted the batch but its id was not stored", () => {
  it("the retry finds the provider batch (OpenAI by metadata, Anthropic by listing) instead of submitting again; each member finishes and is charged once", async () => {
    const [openai, anthropic] = await Promise.all([startOpenAIFake(), startAnthropicFake()]);
    let t: TestApp | undefined;
    try {
      t = await startTestApp({ batch: { maxSize: 3, maxWaitMs: 600_000, pollMs: 100 }, providers: { vendors: vendors(openai, anthropic) } });
      // The first SUBMITTING → SUBMITTED update of each provider's batch fails in Postgres itself, after the
      // provider call: as a crash between the two would (a sequence, since a raised error rolls back a table write).
      await t.app.ds.query(`CREATE SEQUENCE fail_openai; CREATE SEQUENCE fail_anthropic`);
      await t.app.ds.query(`
        CREATE FUNCTION fail_submitted_once() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF OLD.state = 'SUBMITTING' AND NEW.state = 'SUBMITTED' AND nextval('fail_' || NEW.provider) = 1 THEN
            RAISE EXCEPTION 'injected: the provider batch id could not be stored';
          END IF;
          RETURN NEW;
        END $$`);
      await t.app.ds.query(`CREATE TRIGGER fail_submitted_once BEFORE UPDATE ON provider_batches FOR EACH ROW EXECUTE FUNCTION fail_submitted_once()`);
      const u = await t.createUser(undefined, { tier: "pro" });
      const ids: string[] = [];
      for (const model of [OPENAI, ANTHROPIC])
        for (let i = 0; i < 3; i++) {
          const r = await t.gql(u.key, CREATE, { input: { modality: "TEXT", model, prompt: `stored late ${i}`, priority: "BATCH", text: { maxTokens: 64 } } });
          expect(r.errors).toBeUndefined();
          ids.push(r.data!.createGeneration.id);
        }
      const done = await Promise.all(ids.map((id) => terminal(t!, u.key, id)));
      expect(done.map((g) => g.status)).toEqual(ids.map(() => "SUCCEEDED"));
      const [fo] = await t.app.ds.query(`SELECT last_value::int AS n FROM fail_openai`);
      const [fa] = await t.app.ds.query(`SELECT last_value::int AS n FROM fail_anthropic`);
      expect([fo.n, fa.n]).toEqual([2, 2]); // each provider's first store failed, the second went through
      const oa = openAIBatches(openai);
      const an = anthropicBatches(anthropic);
      expect([oa.batches.size, an.batches.size]).toEqual([1, 1]); // exactly one provider batch each
      expect(oa.lists).toBeGreaterThan(0);
      expect(an.lists).toBeGreaterThan(0);
      const [only] = [...oa.batches.values()];
      const rows = await t.app.ds.query(`SELECT provider, provider_batch_id, state FROM provider_batches ORDER BY provider`);
      expect(rows).toEqual([
        { provider: "anthropic", provider_batch_id: [...an.batches.keys()][0], state: "ENDED" },
        { provider: "openai", provider_batch_id: only.id, state: "ENDED" },
      ]);
      const charges = await t.app.ds.query(`SELECT generation_id, count(*)::int AS n FROM spend_ledger WHERE kind = 'charge' GROUP BY 1`);
      expect(charges.map((c: any) => c.n)).toEqual(ids.map(() => 1));
    } finally {
      await t?.close();
      await Promise.all([openai.close(), anthropic.close()]);
    }
  });
});

describe("provider batches: GENERATION_MAX_AGE_MS", () => {
  it("a member of a batch still running at the provider is not expired by the sweeper; it finishes when the batch does", async () => {
    const [openai, anthropic] = await Promise.all([startOpenAIFake(), startAnthropicFake()]);
    const oa = openAIBatches(openai);
    oa.hold = true;
    let t: TestApp | undefined;
    try {
      t = await startTestApp({ batch: { maxSize: 2, maxWaitMs: 600_000, pollMs: 100 }, providers: { vendors: vendors(openai, anthropic) }, sweeper: { maxAgeMs: 500 } });
      const u = await t.createUser(undefined, { tier: "pro" });
      const ids: string[] = [];
      for (let i = 0; i < 2; i++) ids.push((await t.gql(u.key, CREATE, { input: { modality: "TEXT", model: OPENAI, prompt: `long batch ${i}`, priority: "BATCH", text: { maxTokens: 64 } } })).data!.createGeneration.id);
      const [pb] = await until(() => [...oa.batches.keys()], (k) => k.length === 1);
      await until(() => oa.retrievals.get(pb) ?? 0, (n) => n >= 2); // in_progress at the provider
      await until(async () => (await t!.app.ds.query(`SELECT bool_and(created_at < now() - interval '1 second') AS old FROM generations WHERE id = ANY($1::uuid[])`, [ids]))[0].old, (old) => old === true);
      const swept = await t.app.sweeper.sweep();
      expect(swept.expired).toBe(0);
      const rows = await t.app.ds.query(`SELECT status FROM generations WHERE id = ANY($1::uuid[])`, [ids]);
      expect(rows.map((r: any) => r.status)).toEqual(["RUNNING", "RUNNING"]);
      oa.hold = false;
      const done = await Promise.all(ids.map((id) => terminal(t!, u.key, id)));
      expect(done.map((g) => g.status)).toEqual(["SUCCEEDED", "SUCCEEDED"]);
    } finally {
      await t?.close();
      await Promise.all([openai.close(), anthropic.close()]);
    }
  });
});
