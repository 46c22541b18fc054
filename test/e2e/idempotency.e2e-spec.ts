import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../helpers/test-app";

const CREATE = `mutation($input: CreateGenerationInput!) { createGeneration(input: $input) { id prompt status user { id } } }`;

describe("idempotency: the same key from the same user returns the first generation", () => {
  let t: TestApp;
  let a: { id: string; key: string };
  let b: { id: string; key: string };

  const create = async (key: string, idempotencyKey: string, prompt: string, extra: Record<string, unknown> = {}) => {
    const res = await t.gql(key, CREATE, { input: { modality: "TEXT", model: "simulated/text", prompt, idempotencyKey, ...extra } });
    expect(res.errors).toBeUndefined();
    return res.data!.createGeneration as { id: string; prompt: string; status: string; user: { id: string } };
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

  it("20 concurrent creates with one key make exactly one generation", async () => {
    const idem = `race-${randomUUID()}`;
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => create(a.key, idem, `race prompt ${i}`)));
    const ids = new Set(results.map((r) => r.id));
    expect(ids.size).toBe(1);
    const stored = await rows(idem);
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({ id: results[0].id, userId: a.id });
    // Every caller got the stored row, whichever prompt won the race.
    expect(new Set(results.map((r) => r.prompt))).toEqual(new Set([stored[0].prompt]));
    const [{ n }] = await t.app.ds.query(`SELECT count(*)::int AS n FROM generations WHERE user_id = $1 AND prompt LIKE 'race prompt %'`, [a.id]);
    expect(n).toBe(1);
  });

  it("the idempotent generation is actually run (enqueued once)", async () => {
    const idem = `run-${randomUUID()}`;
    const first = await create(a.key, idem, "run me", { wait: 10 });
    expect(first.status).toBe("SUCCEEDED");
    const [{ n }] = await t.app.ds.query(`SELECT count(*)::int AS n FROM generation_attempts WHERE generation_id = $1`, [first.id]);
    expect(n).toBe(1);
  });

  it("a repeat returns the first generation, even with a different prompt", async () => {
    const idem = `repeat-${randomUUID()}`;
    const first = await create(a.key, idem, "the first prompt");
    const again = await create(a.key, idem, "a different prompt");
    expect(again.id).toBe(first.id);
    expect(again.prompt).toBe("the first prompt");
    expect(await rows(idem)).toHaveLength(1);
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
    expect((await create(b.key, idem, "again")).id).toBe(fromB.id);
  });
});
