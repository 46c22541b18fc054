/**
 * Per-API-key limits on top of the user's (issue 17): allowedModels (FORBIDDEN outside them;
 * aliases, `auto` and the model lists see only allowed ones), a per-key budget reserved and
 * settled like the user's (both must fit; never overspent under a burst; released on failure,
 * cancel and expiry), and a per-key rate limit exact across two API nodes on one Redis.
 * Key limits are set with SQL on the test database (the columns of migration 1732491200000).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FakeProviderServer } from "../fakes/fake-server";
import { startOpenAIFake } from "../fakes/openai.fake";
import { startTestApp, type TestApp } from "../helpers/test-app";
import { CANCEL, CREATE, estimate, micros, periods, setQuota, settled, text, until } from "../helpers/quota";

const CREATE_C = `mutation($input: CreateGenerationInput!) { createGeneration(input: $input) { id status model candidates error { code } } }`;

interface Limits {
  budgetMicros?: number | null;
  allowedModels?: string[] | null;
  rateLimitPerMinute?: number | null;
}

/** A new key for the user with these limits (set before the key is first used, so no node has it cached). */
async function keyWith(t: TestApp, userId: string, l: Limits): Promise<{ id: string; key: string }> {
  const { key, entity } = await t.app.services.apiKeys.createKey(userId, "limited");
  await t.app.ds.query(`UPDATE api_keys SET budget_micros = $2, allowed_models = $3, rate_limit_per_minute = $4 WHERE id = $1`, [
    entity.id, l.budgetMicros ?? null, l.allowedModels ?? null, l.rateLimitPerMinute ?? null,
  ]);
  return { id: entity.id, key };
}

/** The key's api_key_periods rows as numbers. */
async function keyPeriods(t: TestApp, apiKeyId: string) {
  const rows = await t.app.ds.query(`SELECT * FROM api_key_periods WHERE api_key_id = $1 ORDER BY period_start`, [apiKeyId]);
  return rows.map((r: Record<string, any>) => ({ limit: Number(r.limit_micros), spent: Number(r.spent_micros), reserved: Number(r.reserved_micros), requests: r.requests as number }));
}

/** The generation's ledger entries with the key each names: [kind, attempt_no, amount, api_key_id]. */
async function keyLedger(t: TestApp, generationId: string): Promise<[string, number, number, string | null][]> {
  const rows = await t.app.ds.query(`SELECT kind, attempt_no, amount_micros, api_key_id FROM spend_ledger WHERE generation_id = $1 ORDER BY attempt_no, kind`, [generationId]);
  return rows.map((r: Record<string, any>) => [r.kind, r.attempt_no, Number(r.amount_micros), r.api_key_id]);
}

const v1 = (t: TestApp, key: string, p: string, body?: unknown) =>
  fetch(`http://127.0.0.1:${t.port}${p}`, {
    method: body === undefined ? "GET" : "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

describe("per-key limits on top of the user's", () => {
  let t: TestApp;
  let openai: FakeProviderServer;
  beforeAll(async () => {
    openai = await startOpenAIFake();
    // fast-text's chain then has two usable models here: openai/gpt-4o-mini (the fake) and simulated/text.
    t = await startTestApp({
      providers: { simulatedExtra: ["simulated-b"], vendors: { openai: { baseUrl: `${openai.url}/v1`, keys: [{ label: "env-1", key: "sk-test-openai-1234" }] } } },
    });
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await openai?.close();
  });

  describe("allowedModels", () => {
    it("a model outside the key's allowedModels is FORBIDDEN (model and fallbackModels) and nothing is written; the user's other keys are not limited", async () => {
      const u = await t.createUser(undefined, { tier: "enterprise" });
      const k = await keyWith(t, u.id, { allowedModels: ["simulated/text"] });
      for (const input of [
        { modality: "TEXT", model: "simulated-b/text", prompt: "x" },
        { modality: "TEXT", model: "simulated/text", prompt: "x", fallbackModels: ["simulated-b/text"] },
      ]) {
        const res = await t.gql(k.key, CREATE_C, { input });
        expect(res.errors?.[0]?.extensions?.code, JSON.stringify(res)).toBe("FORBIDDEN");
        expect(res.errors![0].message).toMatch(/this API key may not use simulated-b\/text.*allowed: simulated\/text/);
      }
      const est = await t.gql(k.key, `query($input: CreateGenerationInput!) { estimateCost(input: $input) { model } }`, { input: { modality: "TEXT", model: "simulated-b/text", prompt: "x" } });
      expect(est.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
      const [{ n }] = await t.app.ds.query(`SELECT count(*)::int AS n FROM generations WHERE user_id = $1`, [u.id]);
      expect(n).toBe(0);
      // Allowed: served. The user's first key (no limits) may still use the other model.
      const ok = await t.gql(k.key, CREATE_C, { input: { modality: "TEXT", model: "simulated/text", prompt: "x", wait: 20 } });
      expect(ok.errors).toBeUndefined();
      expect(ok.data!.createGeneration.status).toBe("SUCCEEDED");
      const other = await t.gql(u.key, CREATE_C, { input: { modality: "TEXT", model: "simulated-b/text", prompt: "x", wait: 20 } });
      expect(other.errors).toBeUndefined();
    });

    it("aliases and auto resolve only to allowed models; an alias with none allowed is FORBIDDEN", async () => {
      const u = await t.createUser(undefined, { tier: "enterprise" });
      const onlyA = await keyWith(t, u.id, { allowedModels: ["simulated/text"] });
      const onlyB = await keyWith(t, u.id, { allowedModels: ["simulated-b/*"] });
      const onlyOpenAI = await keyWith(t, u.id, { allowedModels: ["openai/*"] });
      const all = await t.gql(u.key, `query($input: CreateGenerationInput!) { estimateCost(input: $input) { candidates { model } } }`, { input: { modality: "TEXT", model: "fast-text", prompt: "x" } });
      expect(all.data!.estimateCost.candidates.map((c: { model: string }) => c.model)).toEqual(["openai/gpt-4o-mini", "simulated/text"]);
      const viaAlias = await t.gql(onlyA.key, CREATE_C, { input: { modality: "TEXT", model: "fast-text", prompt: "x", wait: 20 } });
      expect(viaAlias.errors).toBeUndefined();
      expect(viaAlias.data!.createGeneration).toMatchObject({ status: "SUCCEEDED", candidates: ["simulated/text"] });
      const viaAliasO = await t.gql(onlyOpenAI.key, `mutation($input: CreateGenerationInput!) { createGeneration(input: $input) { status candidates provider { id } } }`, {
        input: { modality: "TEXT", model: "fast-text", prompt: "x", wait: 20 },
      });
      expect(viaAliasO.data!.createGeneration).toMatchObject({ status: "SUCCEEDED", candidates: ["openai/gpt-4o-mini"], provider: { id: "openai" } });
      // Nothing of fast-text's chain is allowed to onlyB.
      const denied = await t.gql(onlyB.key, CREATE_C, { input: { modality: "TEXT", model: "fast-text", prompt: "x" } });
      expect(denied.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
      expect(denied.errors![0].message).toMatch(/may not use any model of alias fast-text/);
      for (const [k, want] of [[onlyA, "simulated/text"], [onlyB, "simulated-b/text"]] as const) {
        const auto = await t.gql(k.key, `query($input: CreateGenerationInput!) { estimateCost(input: $input) { candidates { model } } }`, { input: { modality: "TEXT", model: "auto", prompt: "x" } });
        expect(auto.errors).toBeUndefined();
        expect(auto.data!.estimateCost.candidates.map((c: { model: string }) => c.model)).toEqual([want]);
        const g = await t.gql(k.key, CREATE_C, { input: { modality: "TEXT", model: "auto", prompt: "x", wait: 20 } });
        expect(g.data!.createGeneration).toMatchObject({ status: "SUCCEEDED", candidates: [want] });
      }
      // No IMAGE model is allowed to either key: auto has nothing to choose from.
      const img = await t.gql(onlyA.key, CREATE_C, { input: { modality: "IMAGE", model: "auto", prompt: "x" } });
      expect(img.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    });

    it("the models query and GET /v1/models list only the key's allowed models", async () => {
      const u = await t.createUser(undefined, { tier: "enterprise" });
      const k = await keyWith(t, u.id, { allowedModels: ["simulated-b/*", "simulated/image"] });
      const res = await t.gql(k.key, `{ models { id } }`);
      expect(res.data!.models.map((m: { id: string }) => m.id).sort()).toEqual(["simulated-b/audio", "simulated-b/embedding", "simulated-b/image", "simulated-b/text", "simulated-b/video", "simulated/image"]);
      const all = await t.gql(u.key, `{ models { id } }`);
      expect(all.data!.models.length).toBeGreaterThan(res.data!.models.length);
      const list = (await (await v1(t, k.key, "/v1/models")).json()) as { data: { id: string }[] };
      const ids = list.data.map((m) => m.id);
      expect(ids).toContain("simulated-b/text");
      expect(ids).not.toContain("simulated/text");
      expect((await v1(t, k.key, `/v1/models/${encodeURIComponent("simulated/text")}`)).status).toBe(404);
      expect((await v1(t, k.key, `/v1/models/${encodeURIComponent("simulated-b/text")}`)).status).toBe(200);
    });

    it("/v1/chat/completions with a disallowed model is 403 in OpenAI's shape", async () => {
      const u = await t.createUser(undefined, { tier: "enterprise" });
      const k = await keyWith(t, u.id, { allowedModels: ["simulated/text"] });
      const res = await v1(t, k.key, "/v1/chat/completions", { model: "simulated-b/text", messages: [{ role: "user", content: "hi" }] });
      expect(res.status).toBe(403);
      const body = (await res.json()) as { error: { type: string; code: string; message: string } };
      expect(body.error).toMatchObject({ type: "permission_error", code: "model_not_allowed" });
      expect(body.error.message).toMatch(/may not use simulated-b\/text/);
      const ok = await v1(t, k.key, "/v1/chat/completions", { model: "simulated/text", messages: [{ role: "user", content: "hi" }] });
      expect(ok.status).toBe(200);
    });
  });

  describe("per-key budget", () => {
    it("a burst of 40 on a key whose budget fits 7 (and 10 on the user's other key): exactly 7 + 10 admitted, never overspent, both balances match the ledger; settled after", { timeout: 120_000 }, async () => {
      const api = await startTestApp({}, { workers: false }); // nothing settles during the burst
      let workers: TestApp | undefined;
      try {
        const u = await api.createUser(undefined, { tier: "enterprise" });
        const input = (i: number) => text(`key burst ${String(i).padStart(2, "0")} ${"lorem ipsum ".repeat(8)}`, { text: { maxTokens: 20 } });
        const est = await estimate(api, u.key, input(0));
        const k = await keyWith(api, u.id, { budgetMicros: 7 * est });
        // The database itself refuses any state where the key's spent + reserved exceeds its budget.
        await api.app.ds.query(`ALTER TABLE api_key_periods ADD CONSTRAINT test_key_never_overspent CHECK (spent_micros + reserved_micros <= limit_micros)`);
        await api.app.ds.query(`ALTER TABLE quota_periods ADD CONSTRAINT test_never_overspent CHECK (spent_micros + reserved_micros <= limit_micros)`);
        const results = await Promise.all([
          ...Array.from({ length: 40 }, (_, i) => api.gql(k.key, CREATE, { input: input(i) })),
          ...Array.from({ length: 10 }, (_, i) => api.gql(u.key, CREATE, { input: input(100 + i) })),
        ]);
        const keyed = results.slice(0, 40);
        const accepted = keyed.filter((r) => r.data?.createGeneration);
        const refused = keyed.filter((r) => r.errors?.[0]?.extensions?.code === "QUOTA_EXCEEDED");
        expect(accepted).toHaveLength(7);
        expect(refused).toHaveLength(33);
        expect(results.slice(40).filter((r) => r.data?.createGeneration)).toHaveLength(10);
        for (const r of refused) {
          const x = r.errors![0].extensions!;
          expect(x.apiKeyId).toBe(k.id);
          expect([micros(x.limitUsd), micros(x.requestedUsd), micros(x.spentUsd) + micros(x.reservedUsd)]).toEqual([7 * est, est, 7 * est]);
          expect(r.errors![0].message).toMatch(/of this API key's \$[\d.]+ budget is left/);
        }
        expect(await keyPeriods(api, k.id)).toEqual([{ limit: 7 * est, spent: 0, reserved: 7 * est, requests: 7 }]);
        expect(await periods(api, u.id)).toMatchObject([{ spent: 0, reserved: 17 * est, requests: 17 }]);
        const [{ n }] = await api.app.ds.query(`SELECT count(*)::int AS n FROM generations WHERE user_id = $1`, [u.id]);
        expect(n).toBe(17);
        expect(await api.app.services.quotas.verify()).toEqual({ periods: 2, mismatches: [] });

        // Workers join and run them: each charge and release moves the key's row too.
        workers = await startTestApp({}, { db: api.db, prefix: api.config.redis.prefix });
        const done = await until(
          () => api.app.ds.query(`SELECT api_key_id, status, cost_micros FROM generations WHERE user_id = $1 AND status IN ('SUCCEEDED','FAILED','CANCELLED')`, [u.id]),
          (rows) => rows.length === 17,
          60_000,
        );
        expect(done.filter((g: { status: string }) => g.status !== "SUCCEEDED")).toEqual([]);
        const keySpent = done.filter((g: { api_key_id: string }) => g.api_key_id === k.id).reduce((s: number, g: { cost_micros: string }) => s + Number(g.cost_micros), 0);
        const userSpent = done.reduce((s: number, g: { cost_micros: string }) => s + Number(g.cost_micros), 0);
        expect(keySpent).toBeGreaterThan(0);
        await until(() => keyPeriods(api, k.id), (p) => p[0]?.reserved === 0);
        expect(await keyPeriods(api, k.id)).toEqual([{ limit: 7 * est, spent: keySpent, reserved: 0, requests: 7 }]);
        expect(await periods(api, u.id)).toMatchObject([{ spent: userSpent, reserved: 0, requests: 17 }]);
        expect(await api.app.services.quotas.verify()).toEqual({ periods: 2, mismatches: [] });
        // What was spent is gone from the key's budget: one more whole reservation no longer fits.
        const after = await api.gql(k.key, CREATE, { input: input(99) });
        expect(after.errors?.[0]?.extensions).toMatchObject({ code: "QUOTA_EXCEEDED", apiKeyId: k.id });
      } finally {
        await workers?.close();
        await api.close();
      }
    });

    it("admissions racing settlements on one key (workers running): only admitted or QUOTA_EXCEEDED, never overspent, balances match the ledger", { timeout: 120_000 }, async () => {
      const u = await t.createUser(undefined, { tier: "enterprise" });
      const input = (i: number) => text(`key race ${String(i).padStart(2, "0")}`, { text: { maxTokens: 20 }, params: { simulate: { latencyMs: 50 } }, wait: 30 });
      const est = await estimate(t, u.key, input(0));
      const k = await keyWith(t, u.id, { budgetMicros: 5 * est });
      await t.app.ds.query(`ALTER TABLE api_key_periods ADD CONSTRAINT test_key_never_overspent CHECK (spent_micros + reserved_micros <= limit_micros)`);
      try {
        const results = await Promise.all(Array.from({ length: 40 }, (_, i) => t.gql(k.key, CREATE, { input: input(i) })));
        const accepted = results.filter((r) => r.data?.createGeneration);
        const refused = results.filter((r) => r.errors?.[0]?.extensions?.code === "QUOTA_EXCEEDED");
        expect(accepted.length + refused.length, JSON.stringify(results.filter((r) => r.errors && r.errors[0]?.extensions?.code !== "QUOTA_EXCEEDED").slice(0, 2))).toBe(40);
        expect(accepted.length).toBeGreaterThanOrEqual(5);
        for (const r of accepted) expect(r.data!.createGeneration.status).toBe("SUCCEEDED");
        const rows = await t.app.ds.query(`SELECT id, cost_micros FROM generations WHERE api_key_id = $1`, [k.id]);
        for (const g of rows) await settled(t, g.id);
        const spent = rows.reduce((s: number, g: { cost_micros: string }) => s + Number(g.cost_micros), 0);
        expect(await keyPeriods(t, k.id)).toEqual([{ limit: 5 * est, spent, reserved: 0, requests: accepted.length }]);
        expect(await t.app.services.quotas.verify()).toMatchObject({ mismatches: [] });
      } finally {
        await t.app.ds.query(`ALTER TABLE api_key_periods DROP CONSTRAINT test_key_never_overspent`);
      }
    });

    it("both budgets must fit: the user's budget refuses a request its key's budget would take", async () => {
      const u = await t.createUser();
      const input = text("user budget first", { text: { maxTokens: 20 } });
      const est = await estimate(t, u.key, input);
      await setQuota(t, u.id, est - 1);
      const k = await keyWith(t, u.id, { budgetMicros: 100 * est });
      const res = await t.gql(k.key, CREATE, { input });
      expect(res.errors?.[0]?.extensions?.code).toBe("QUOTA_EXCEEDED");
      expect(res.errors![0].extensions!.apiKeyId).toBeUndefined(); // the user's budget said no
      expect(await keyPeriods(t, k.id)).toEqual([{ limit: 100 * est, spent: 0, reserved: 0, requests: 0 }]);
    });

    it("a cancelled generation releases the key's reservation too", { timeout: 60_000 }, async () => {
      const u = await t.createUser();
      const input = text("cancel me on a budgeted key", { params: { simulate: { latencyMs: 20_000 } } });
      const est = await estimate(t, u.key, input);
      const k = await keyWith(t, u.id, { budgetMicros: 10 * est });
      const g = (await t.gql(k.key, CREATE, { input })).data!.createGeneration;
      await until(() => t.app.ds.query(`SELECT status FROM generation_attempts WHERE generation_id = $1`, [g.id]), (r) => r[0]?.status === "RUNNING");
      expect(await keyPeriods(t, k.id)).toEqual([{ limit: 10 * est, spent: 0, reserved: est, requests: 1 }]);
      const c = await t.gql(k.key, CANCEL, { id: g.id });
      expect(c.data!.cancelGeneration.status).toBe("CANCELLED");
      await settled(t, g.id);
      expect(await keyLedger(t, g.id)).toEqual([["release", 0, est, k.id], ["reserve", 0, est, k.id]]);
      expect(await keyPeriods(t, k.id)).toEqual([{ limit: 10 * est, spent: 0, reserved: 0, requests: 1 }]);
      expect(await periods(t, u.id)).toMatchObject([{ spent: 0, reserved: 0 }]);
    });

    it("retries extend the key's reservation too; a retry the key's budget cannot cover is not made, and everything is released", { timeout: 60_000 }, async () => {
      const u = await t.createUser();
      const input = text("always 503 on a budgeted key", { params: { simulate: { failWith: "unavailable", failRate: 1 } }, wait: 30 });
      const est = await estimate(t, u.key, input);
      const k = await keyWith(t, u.id, { budgetMicros: 2 * est }); // room for two attempts, not three
      const g = (await t.gql(k.key, CREATE, { input })).data!.createGeneration;
      expect([g.status, g.error?.code]).toEqual(["FAILED", "QUOTA_EXCEEDED"]);
      await settled(t, g.id);
      expect(await keyLedger(t, g.id)).toEqual([["release", 0, 2 * est, k.id], ["reserve", 0, est, k.id], ["extend", 2, est, k.id]]);
      expect(await keyPeriods(t, k.id)).toEqual([{ limit: 2 * est, spent: 0, reserved: 0, requests: 1 }]);
      expect(await periods(t, u.id)).toMatchObject([{ spent: 0, reserved: 0, requests: 1 }]);
      expect(await t.app.services.quotas.verify()).toMatchObject({ mismatches: [] });
    });

    it("a generation the sweeper expires (its process died) releases the key's reservation too", { timeout: 60_000 }, async () => {
      const api = await startTestApp({}, { workers: false });
      try {
        const u = await api.createUser();
        const input = text("never run", { text: { maxTokens: 20 } });
        const est = await estimate(api, u.key, input);
        const k = await keyWith(api, u.id, { budgetMicros: 3 * est });
        const g = (await api.gql(k.key, CREATE, { input })).data!.createGeneration;
        expect(await keyPeriods(api, k.id)).toEqual([{ limit: 3 * est, spent: 0, reserved: est, requests: 1 }]);
        // Older than the maximum age: what a generation left behind by a crash becomes.
        await api.app.ds.query(`UPDATE generations SET created_at = now() - interval '30 days' WHERE id = $1`, [g.id]);
        expect((await api.app.sweeper.sweep()).expired).toBe(1);
        expect(await keyLedger(api, g.id)).toEqual([["release", 0, est, k.id], ["reserve", 0, est, k.id]]);
        expect(await keyPeriods(api, k.id)).toEqual([{ limit: 3 * est, spent: 0, reserved: 0, requests: 1 }]);
        expect(await periods(api, u.id)).toMatchObject([{ spent: 0, reserved: 0 }]);
      } finally {
        await api.close();
      }
    });

    it("/v1/chat/completions over the key's budget gets the user budget's answer: 429 insufficient_quota", async () => {
      const u = await t.createUser(undefined, { tier: "enterprise" });
      const k = await keyWith(t, u.id, { budgetMicros: 1 });
      const res = await v1(t, k.key, "/v1/chat/completions", { model: "simulated/text", messages: [{ role: "user", content: "hi" }] });
      expect(res.status).toBe(429);
      expect(((await res.json()) as { error: { type: string; code: string } }).error).toMatchObject({ type: "insufficient_quota", code: "insufficient_quota" });
      // The user budget's refusal, for comparison: the same status and shape.
      const v = await t.createUser();
      await setQuota(t, v.id, 1);
      const userRes = await v1(t, v.key, "/v1/chat/completions", { model: "simulated/text", messages: [{ role: "user", content: "hi" }] });
      expect(userRes.status).toBe(429);
      expect(((await userRes.json()) as { error: { type: string } }).error.type).toBe("insufficient_quota");
    });
  });

  describe("keys made with createApiKey", () => {
    const CREATE_KEY = `mutation($allowedModels: [String!], $budgetUsd: Float, $rateLimitPerMinute: Int) {
      createApiKey(label: "limited", allowedModels: $allowedModels, budgetUsd: $budgetUsd, rateLimitPerMinute: $rateLimitPerMinute) { secret apiKey { id } }
    }`;
    async function createKey(owner: string, vars: Record<string, unknown>): Promise<{ id: string; key: string }> {
      const res = await t.gql(owner, CREATE_KEY, vars);
      expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
      return { id: res.data!.createApiKey.apiKey.id, key: res.data!.createApiKey.secret };
    }

    it("an alias in allowedModels allows its chain (named or through the alias); \"auto\" alone allows only auto", async () => {
      const u = await t.createUser(undefined, { tier: "enterprise" });
      const viaAlias = await createKey(u.key, { allowedModels: ["fast-text"] });
      const g = await t.gql(viaAlias.key, CREATE_C, { input: { modality: "TEXT", model: "fast-text", prompt: "x", wait: 20 } });
      expect(g.data!.createGeneration).toMatchObject({ status: "SUCCEEDED", candidates: ["openai/gpt-4o-mini", "simulated/text"] });
      const named = await t.gql(viaAlias.key, CREATE_C, { input: { modality: "TEXT", model: "simulated/text", prompt: "x", wait: 20 } });
      expect(named.data!.createGeneration.status).toBe("SUCCEEDED");
      const outside = await t.gql(viaAlias.key, CREATE_C, { input: { modality: "TEXT", model: "simulated-b/text", prompt: "x" } });
      expect(outside.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
      const auto = await t.gql(viaAlias.key, `query($input: CreateGenerationInput!) { estimateCost(input: $input) { candidates { model } } }`, { input: { modality: "TEXT", model: "auto", prompt: "x" } });
      for (const c of auto.data!.estimateCost.candidates) expect(["openai/gpt-4o-mini", "simulated/text"]).toContain(c.model);

      const autoOnly = await createKey(u.key, { allowedModels: ["auto"] });
      const a = await t.gql(autoOnly.key, CREATE_C, { input: { modality: "TEXT", model: "auto", prompt: "x", wait: 20 } });
      expect(a.errors).toBeUndefined();
      expect(a.data!.createGeneration.status).toBe("SUCCEEDED");
      const explicit = await t.gql(autoOnly.key, CREATE_C, { input: { modality: "TEXT", model: "simulated/text", prompt: "x" } });
      expect(explicit.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    });

    it("budgetUsd and rateLimitPerMinute set through GraphQL are enforced", { timeout: 60_000 }, async () => {
      const u = await t.createUser(undefined, { tier: "enterprise" });
      const input = text("graphql-made key", { text: { maxTokens: 20 }, params: { simulate: { latencyMs: 5000 } } });
      const est = await estimate(t, u.key, input);
      const budgeted = await createKey(u.key, { budgetUsd: est / 1_000_000 }); // room for one
      const burst = await Promise.all(Array.from({ length: 5 }, () => t.gql(budgeted.key, CREATE, { input })));
      expect(burst.filter((r) => r.data?.createGeneration)).toHaveLength(1);
      for (const r of burst.filter((x) => x.errors)) expect(r.errors![0].extensions).toMatchObject({ code: "QUOTA_EXCEEDED", apiKeyId: budgeted.id });
      expect(await keyPeriods(t, budgeted.id)).toMatchObject([{ limit: est, reserved: est, requests: 1 }]);
      // The owner sees it on the key: what the budget holds, what is reserved, what is left.
      const keys = await t.gql(u.key, `{ me { apiKeys { id usage { limitUsd spentUsd reservedUsd remainingUsd requests periodEnd } } } }`);
      expect(keys.errors).toBeUndefined();
      const byId = new Map((keys.data!.me.apiKeys as { id: string; usage: Record<string, unknown> | null }[]).map((k) => [k.id, k.usage]));
      expect(byId.get(budgeted.id)).toMatchObject({ limitUsd: est / 1_000_000, spentUsd: 0, reservedUsd: est / 1_000_000, remainingUsd: 0, requests: 1 });
      expect(Date.parse(byId.get(budgeted.id)!.periodEnd as string)).toBeGreaterThan(Date.now());
      expect([...byId.entries()].filter(([id]) => id !== budgeted.id).every(([, usage]) => usage === null)).toBe(true); // no budget of its own
      const fresh = await createKey(u.key, { budgetUsd: 2 }); // nothing admitted under it yet
      const again = await t.gql(u.key, `{ me { apiKeys { id usage { limitUsd spentUsd requests } } } }`);
      expect((again.data!.me.apiKeys as { id: string; usage: unknown }[]).find((k) => k.id === fresh.id)!.usage).toEqual({ limitUsd: 2, spentUsd: 0, requests: 0 });

      const limited = await createKey(u.key, { rateLimitPerMinute: 2 });
      const quick = text("rate-limited key", { text: { maxTokens: 5 } });
      const res = await Promise.all(Array.from({ length: 5 }, () => t.gql(limited.key, CREATE, { input: quick })));
      expect(res.filter((r) => r.data?.createGeneration)).toHaveLength(2);
      for (const r of res.filter((x) => x.errors)) expect(r.errors![0].extensions).toMatchObject({ code: "RATE_LIMITED", limit: 2, apiKeyId: limited.id });
    });
  });

  describe("per-key rate limit", () => {
    it("is exact across two API nodes on one Redis: 30 concurrent requests (15 per node) on a 6/minute key, exactly 6 accepted", { timeout: 90_000 }, async () => {
      const rl = { rateLimits: { free: { perMinute: 4, perHour: 1000 } } };
      const a = await startTestApp(rl, { workers: false });
      const b = await startTestApp(rl, { workers: false, db: a.db, prefix: a.config.redis.prefix });
      try {
        const u = await a.createUser(undefined, { tier: "enterprise" });
        const k = await keyWith(a, u.id, { rateLimitPerMinute: 6 });
        const input = text("rate limited key", { text: { maxTokens: 5 } });
        const results = await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 ? b : a).gql(k.key, CREATE, { input })));
        const accepted = results.filter((r) => r.data?.createGeneration);
        const limited = results.filter((r) => r.errors?.[0]?.extensions?.code === "RATE_LIMITED");
        expect(accepted).toHaveLength(6);
        expect(limited).toHaveLength(24);
        for (const r of limited) {
          expect(r.errors![0].extensions).toMatchObject({ limit: 6, window: "minute", apiKeyId: k.id });
          expect(r.errors![0].extensions!.retryAfterSeconds).toBeGreaterThanOrEqual(1);
        }
        const [{ n }] = await a.app.ds.query(`SELECT count(*)::int AS n FROM generations WHERE user_id = $1`, [u.id]);
        expect(n).toBe(6);
        // The user's other key is not limited by this key's window.
        const other = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? b : a).gql(u.key, CREATE, { input })));
        expect(other.filter((r) => r.data?.createGeneration)).toHaveLength(8);
        // Both limits apply: a free user's (4/minute here) refuses before its key's roomier 50 does.
        const f = await a.createUser();
        const fk = await keyWith(a, f.id, { rateLimitPerMinute: 50 });
        const free = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? b : a).gql(fk.key, CREATE, { input })));
        expect(free.filter((r) => r.data?.createGeneration)).toHaveLength(4);
        const byUser = free.filter((r) => r.errors?.[0]?.extensions?.code === "RATE_LIMITED");
        expect(byUser).toHaveLength(6);
        for (const r of byUser) expect(r.errors![0].extensions).toMatchObject({ limit: 4, window: "minute" });
        for (const r of byUser) expect(r.errors![0].extensions!.apiKeyId).toBeUndefined();
      } finally {
        await b.close();
        await a.close();
      }
    });
  });
});
