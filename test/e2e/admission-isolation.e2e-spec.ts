/**
 * One bad request must not fail anyone else's: admission batches many users' requests into
 * one transaction, so a member that fails in Postgres is retried alone and only it fails.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GenerationEntity } from "../../src/db/entities/generation.entity";
import { newId } from "../../src/common/ids";
import { GenerationStore } from "../../src/domain/generations/generation.store";
import { startTestApp, type GqlResult, type TestApp } from "../helpers/test-app";

const CREATE = `mutation($input: CreateGenerationInput!) { createGeneration(input: $input) { id status } }`;
const text = (prompt: string, extra: Record<string, unknown> = {}) => ({ modality: "TEXT", model: "simulated/text", prompt, ...extra });
const codes = (r: GqlResult) => r.errors?.map((e) => e.extensions?.code);

describe("a poisoned request among good ones", () => {
  let t: TestApp;
  let bad: { id: string; key: string };
  let good: { id: string; key: string };
  const count = async (userId: string) => (await t.app.ds.query(`SELECT count(*)::int AS n FROM generations WHERE user_id = $1`, [userId]))[0].n as number;

  beforeAll(async () => {
    t = await startTestApp({}, { workers: false });
    bad = await t.createUser(undefined, { tier: "enterprise" });
    good = await t.createUser(undefined, { tier: "enterprise" });
  });
  afterAll(async () => {
    await t?.close();
  });

  it.each([
    ["maxCostUsd: 1e30", { maxCostUsd: 1e30 }, "maxCostUsd"],
    ["requirements.maxCostUsd: 1e30", { model: "auto", requirements: { maxCostUsd: 1e30 } }, "requirements.maxCostUsd"],
    ["deadlineSeconds past any timestamp", { deadlineSeconds: 2 ** 31 - 1 }, "deadlineSeconds"],
  ])("%s among 180 concurrent good requests from another user: only it fails, with BAD_USER_INPUT naming the field", async (_name, extra, field) => {
    const before = await count(good.id);
    const badReq = t.gql(bad.key, CREATE, { input: text("poison", extra) });
    const goods = Array.from({ length: 180 }, (_, i) => t.gql(good.key, CREATE, { input: text(`good ${i}`) }));
    const [b, ...g] = await Promise.all([badReq, ...goods]);
    expect(codes(b)).toEqual(["BAD_USER_INPUT"]);
    expect(b.errors![0].extensions?.field).toBe(field);
    const failed = g.filter((r) => r.errors);
    expect(failed.map((r) => r.errors![0].message)).toEqual([]);
    expect(g.every((r) => r.data?.createGeneration?.status === "QUEUED")).toBe(true);
    expect(await count(good.id)).toBe(before + 180);
    expect(await count(bad.id)).toBe(0);
    expect((await t.app.services.quotas.verify()).mismatches).toEqual([]);
  });

  it("an inline Float literal 1e400 (Infinity once parsed) is BAD_USER_INPUT naming the field, never an internal error", async () => {
    for (const [arg, field] of [["maxCostUsd: 1e400", "maxCostUsd"], ["requirements: { maxCostUsd: 1e400 }", "requirements.maxCostUsd"], ["text: { temperature: 1e400 }", "text.temperature"]]) {
      const res = await t.gql(bad.key, `mutation { createGeneration(input: {modality: TEXT, model: "simulated/text", prompt: "x", ${arg}}) { id } }`);
      expect(codes(res), arg).toEqual(["BAD_USER_INPUT"]);
      expect(res.errors![0].extensions?.field, arg).toBe(field);
    }
    const quota = await t.gql(t.adminKey, `mutation($u: ID!) { setQuota(userId: $u, limitUsd: 1e400) { limitUsd } }`, { u: bad.id });
    expect(quota.errors?.[0].extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "limitUsd" });
    const huge = await t.gql(t.adminKey, `mutation($u: ID!) { setQuota(userId: $u, limitUsd: 1e30) { limitUsd } }`, { u: bad.id });
    expect(huge.errors?.[0].extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "limitUsd" });
    expect(await count(bad.id)).toBe(0);
  });

  it("a member Postgres refuses fails alone: the batch is run again member by member", async () => {
    // What an unvalidated field used to do: a value BIGINT cannot hold, inside one admission batch with 180 good ones.
    const seed = await t.gql(good.key, CREATE, { input: text("template") });
    const template = await t.app.ds.getRepository(GenerationEntity).findOneByOrFail({ id: seed.data!.createGeneration.id });
    const clone = (userId: string, extra: Partial<GenerationEntity> = {}) =>
      Object.assign(new GenerationEntity(), template, { id: newId(), userId, idempotencyKey: null, reservedMicros: 0, quotaPeriodStart: null, createdAt: new Date(), updatedAt: new Date(), ...extra });
    const before = await count(good.id);
    const batch = [clone(bad.id, { maxCostMicros: 1e36 }), ...Array.from({ length: 180 }, () => clone(good.id))];
    const results = await Promise.allSettled(batch.map((g) => t.app.services.quotas.admit(g)));
    expect(results[0].status).toBe("rejected");
    expect(String((results[0] as PromiseRejectedResult).reason?.message)).toMatch(/bigint/);
    expect(results.slice(1).map((r) => (r.status === "fulfilled" ? r.value.kind : String(r.reason)))).toEqual(Array(180).fill("inserted"));
    expect(await count(good.id)).toBe(before + 180);
    expect(await count(bad.id)).toBe(0);
    expect((await t.app.services.quotas.verify()).mismatches).toEqual([]);
  });

  it("the other batched statements isolate too: an output Postgres refuses fails only its own settle", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push((await t.gql(good.key, CREATE, { input: text(`settle ${i}`) })).data!.createGeneration.id);
    const store = new GenerationStore(t.app.ds);
    const claims = await Promise.all(ids.map((id) => store.claim(id)));
    const results = await Promise.allSettled(
      claims.map((c, i) => store.succeed({ gen: c!.gen, attemptNo: c!.attemptNo, output: { text: i === 2 ? "a\u0000b" : "ok" }, latencyMs: 1, costMicros: 5 })),
    );
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "fulfilled", "rejected", "fulfilled", "fulfilled", "fulfilled"]);
    const rows = await t.app.ds.query(`SELECT id, status FROM generations WHERE id = ANY($1::uuid[])`, [ids]);
    const status = new Map(rows.map((r: { id: string; status: string }) => [r.id, r.status]));
    expect(ids.map((id) => status.get(id))).toEqual(["SUCCEEDED", "SUCCEEDED", "RUNNING", "SUCCEEDED", "SUCCEEDED", "SUCCEEDED"]);
    expect((await t.app.services.quotas.verify()).mismatches).toEqual([]);
  });
});
