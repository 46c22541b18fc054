import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../helpers/test-app";

const PAGE = `query($first: Int!) { generations(first: $first) { edges { node { id user { email } attempts { status } } } } }`;

/**
 * `generations` resolves `user` and `attempts` through per-request DataLoaders, so one page
 * costs a fixed number of SQL statements whatever its size. Workers are off (nothing in the
 * background issues SQL); generations and attempts are seeded straight into the tables.
 */
describe("query count: generations page with user and attempts", () => {
  let t: TestApp;
  let user: { id: string; key: string };
  let statements: string[] = [];

  /** The SQL statements one request issues, and its result. */
  async function measure(key: string, first: number) {
    statements = [];
    const res = await t.gql(key, PAGE, { first });
    const sql = statements;
    statements = [];
    expect(res.errors).toBeUndefined();
    return { sql, edges: res.data!.generations.edges as { node: { id: string; user: { email: string }; attempts: { status: string }[] } }[] };
  }

  beforeAll(async () => {
    t = await startTestApp({}, { workers: false, onQuery: (sql) => statements.push(sql) });
    user = await t.createUser("counted@test.local");
    const base = Date.now() - 60_000;
    await t.app.ds.transaction(async (m) => {
      for (let i = 0; i < 50; i++) {
        const id = randomUUID();
        const at = new Date(base + i * 1000);
        await m.query(
          `INSERT INTO generations (id, user_id, status, modality, model, provider, prompt, priority, estimated_cost_micros, cost_micros, created_at, updated_at, completed_at)
           VALUES ($1, $2, 'SUCCEEDED', 'TEXT', 'simulated/text', 'simulated', $3, 'NORMAL', 100, 50, $4, $4, $4)`,
          [id, user.id, `seed ${i}`, at],
        );
        await m.query(
          `INSERT INTO generation_attempts (id, generation_id, attempt_no, provider, model, status, latency_ms, error_kind, cost_micros, created_at)
           VALUES ($1, $3, 1, 'simulated', 'text', 'FAILED', 10, 'timeout', 0, $4), ($2, $3, 2, 'simulated', 'text', 'SUCCEEDED', 20, NULL, 50, $4)`,
          [randomUUID(), randomUUID(), id, at],
        );
      }
    });
  });
  afterAll(async () => {
    await t?.close();
  });

  it("resolves a full page of 50 with users and attempts", async () => {
    const { edges } = await measure(user.key, 50);
    expect(edges).toHaveLength(50);
    for (const e of edges) {
      expect(e.node.user.email).toBe("counted@test.local");
      expect(e.node.attempts.map((a) => a.status)).toEqual(["FAILED", "SUCCEEDED"]);
    }
  });

  it("with a fresh (uncached) key: at most 4 statements, the same for first: 10 and first: 50", async () => {
    const counts: Record<number, number> = {};
    for (const first of [10, 50]) {
      const { key } = await t.app.services.apiKeys.createKey(user.id, `fresh-${first}`); // never used: the auth lookup is counted
      const { sql, edges } = await measure(key, first);
      expect(edges).toHaveLength(first);
      expect(sql.length, sql.join("\n")).toBeLessThanOrEqual(4);
      counts[first] = sql.length;
    }
    expect(counts[50]).toBe(counts[10]);
  });

  it("with a warm (cached) key: one statement fewer, the same for first: 10 and first: 50", async () => {
    const { key } = await t.app.services.apiKeys.createKey(user.id, "warm");
    const fresh = (await measure(key, 10)).sql.length; // caches the key
    const warm10 = await measure(key, 10);
    const warm50 = await measure(key, 50);
    expect(warm10.sql.length, warm10.sql.join("\n")).toBe(fresh - 1);
    expect(warm50.sql.length, warm50.sql.join("\n")).toBe(warm10.sql.length);
    expect(warm50.sql.length).toBeLessThanOrEqual(3);
  });
});
