import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../helpers/test-app";

const CREATE = `mutation($input: CreateGenerationInput!) { createGeneration(input: $input) { id prompt status cached user { id } } }`;

describe("idempotency: the same key and request from the same user returns the first generation; another request is CONFLICT", () => {
  let t: TestApp;
  let a: { id: string; key: string };
  let b: { id: string; key: string };

  const create = async (key: string, idempotencyKey: string, prompt: string, extra: Record<string, unknown> = {}) => {
    const res = await t.gql(key, CREATE, { input: { modality: "TEXT", model: "simulated/text", prompt, idempotencyKey, ...extra } });
    expect(res.errors).toBeUndefined();
    return res.data!.createGeneration as { id: string; prompt: string; status: string; user: { id: string } };
  };
  /** The raw answer: data or errors. */
  const attempt = (key: string, idempotencyKey: string, prompt: string, extra: Record<string, unknown> = {}) =>
    t.gql(key, CREATE, { input: { modality: "TEXT", model: "simulated/text", prompt, idempotencyKey, ...extra } });
  const expectConflict = (res: Awaited<ReturnType<typeof attempt>>, firstId?: string) => {
    expect(res.data?.createGeneration ?? null).toBeNull();
    expect(res.errors).toHaveLength(1);
    expect(res.errors![0].extensions).toMatchObject({ code: "CONFLICT", field: "idempotencyKey", ...(firstId ? { generationId: firstId } : {}) });
    expect(res.errors![0].message).toMatch(/already used with a different request/);
  };
  /** Budget ledger entries of the generations stored under `idem`, by kind. */
  const ledgerKinds = async (idem: string) => {
    const r: { kind: string; n: number }[] = await t.app.ds.query(
      `SELECT l.kind, count(*)::int AS n FROM spend_ledger l JOIN generations g ON g.id = l.generation_id WHERE g.idempotency_key = $1 GROUP BY l.kind`, [idem],
    );
    return Object.fromEntries(r.map((x) => [x.kind, x.n]));
  };
  const rows = (idem: string) =>
    t.app.ds.query(`SELECT id, user_id AS "userId", prompt FROM generations WHERE idempotency_key = $1 ORDER BY created_at`, [idem]);

  beforeAll(async () => {
    t = await startTestApp();
    a = await t.createUser();
    b = await t.createUser();
  });
  afterAll(async () => {
    await t?.close();
  });

  it("20 concurrent creates with one key and the same request make exactly one generation, reserved once", async () => {
    const idem = `race-${randomUUID()}`;
    const results = await Promise.all(Array.from({ length: 20 }, () => create(a.key, idem, "race prompt", { params: { simulate: { latencyMs: 300 } } })));
    const ids = new Set(results.map((r) => r.id));
    expect(ids.size).toBe(1);
    const stored = await rows(idem);
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({ id: results[0].id, userId: a.id, prompt: "race prompt" });
    expect((await ledgerKinds(idem)).reserve).toBe(1);
  });

  it("20 concurrent creates with one key and different requests: one generation, CONFLICT for every loser, one reservation", async () => {
    const idem = `race-diff-${randomUUID()}`;
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => attempt(a.key, idem, `race prompt ${i}`, { params: { simulate: { latencyMs: 300 } } })));
    const won = answers.filter((r) => !r.errors);
    expect(won).toHaveLength(1);
    const winner = won[0].data!.createGeneration as { id: string; prompt: string };
    for (const r of answers.filter((x) => x.errors)) expectConflict(r, winner.id);
    const stored = await rows(idem);
    expect(stored).toEqual([{ id: winner.id, userId: a.id, prompt: winner.prompt }]);
    const [{ n }] = await t.app.ds.query(`SELECT count(*)::int AS n FROM generations WHERE user_id = $1 AND prompt LIKE 'race prompt %'`, [a.id]);
    expect(n).toBe(1);
    // Never a second charge: one reservation, and at most the winner's charges once it ran.
    await t.gql(a.key, `query($id: ID!) { generation(id: $id) { id } }`, { id: winner.id });
    const kinds = await ledgerKinds(idem);
    expect(kinds.reserve).toBe(1);
    expect(kinds.charge ?? 0).toBeLessThanOrEqual(1);
    expect((await t.app.services.quotas.verify()).mismatches).toEqual([]);
  });

  it("the idempotent generation is actually run (enqueued once)", async () => {
    const idem = `run-${randomUUID()}`;
    const first = await create(a.key, idem, "run me", { wait: 10 });
    expect(first.status).toBe("SUCCEEDED");
    const [{ n }] = await t.app.ds.query(`SELECT count(*)::int AS n FROM generation_attempts WHERE generation_id = $1`, [first.id]);
    expect(n).toBe(1);
  });

  it("a repeat of the same request returns the first generation (however it is spelled, whatever it waits)", async () => {
    const idem = `repeat-${randomUUID()}`;
    const first = await create(a.key, idem, "the first prompt", { text: { maxTokens: 20 } });
    // Surrounding whitespace, explicit defaults, nulls and `wait` do not make it another request.
    const again = await create(a.key, idem, "  the first prompt ", { text: { maxTokens: 20 }, priority: "NORMAL", cache: "AUTO", seed: null, wait: 5 });
    expect(again.id).toBe(first.id);
    expect(again.status).toBe("SUCCEEDED"); // it waited for the first one
    expect(await rows(idem)).toHaveLength(1);
  });

  it("a repeat with a different request is CONFLICT and creates or charges nothing", async () => {
    const idem = `conflict-${randomUUID()}`;
    const first = await create(a.key, idem, "the first prompt");
    for (const [prompt, extra] of [
      ["a different prompt", {}],
      ["the first prompt", { priority: "HIGH" }],
      ["the first prompt", { text: { maxTokens: 5 } }],
      ["the first prompt", { params: { simulate: { latencyMs: 10 } } }],
      ["the first prompt", { maxCostUsd: 1 }],
    ] as [string, Record<string, unknown>][]) {
      expectConflict(await attempt(a.key, idem, prompt, extra), first.id);
    }
    expect(await rows(idem)).toHaveLength(1);
    expect((await ledgerKinds(idem)).reserve).toBe(1);
    // The same request still gets the first generation.
    expect((await create(a.key, idem, "the first prompt")).id).toBe(first.id);
  });

  it("a key first answered from the cache is bound to that request too", async () => {
    const warm = await create(a.key, `warm-${randomUUID()}`, "cache me", { seed: 42, wait: 10 });
    expect(warm.status).toBe("SUCCEEDED");
    const idem = `cached-${randomUUID()}`;
    const hit = await create(a.key, idem, "cache me", { seed: 42 });
    expect(hit).toMatchObject({ status: "SUCCEEDED", cached: true });
    expect((await create(a.key, idem, "cache me", { seed: 42 })).id).toBe(hit.id);
    expectConflict(await attempt(a.key, idem, "cache me", { seed: 43 }), hit.id);
  });

  it("the same key from another user creates a different generation", async () => {
    const idem = `shared-${randomUUID()}`;
    const fromA = await create(a.key, idem, "A's prompt");
    const fromB = await create(b.key, idem, "B's prompt");
    expect(fromB.id).not.toBe(fromA.id);
    expect(fromA.user.id).toBe(a.id);
    expect(fromB).toMatchObject({ prompt: "B's prompt", user: { id: b.id } });
    const stored = await rows(idem);
    expect(stored.map((r: { userId: string }) => r.userId).sort()).toEqual([a.id, b.id].sort());
    // And B's repeat returns B's generation, not A's.
    expect((await create(b.key, idem, "B's prompt")).id).toBe(fromB.id);
    expectConflict(await attempt(b.key, idem, "A's prompt"), fromB.id);
  });
});
