import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collect, startTestApp, type TestApp } from "../helpers/test-app";

const FIELDS = `seq type generation { id status attempts { attemptNo status } }`;
const ONE = `subscription($id: ID!) { generationUpdated(id: $id) { ${FIELDS} } }`;
const MINE = `subscription { myGenerations { ${FIELDS} } }`;
const CREATE = `mutation($input: CreateGenerationInput!) { createGeneration(input: $input) { id } }`;

interface Ev {
  seq: number;
  type: string;
  generation: { id: string; status: string; attempts: { attemptNo: number; status: string }[] };
}

/** The attempts DataLoader's batch statement (TypeORM's find on the entity; nothing else reads the table that way). */
const isAttemptsRead = (sql: string) => /FROM "generation_attempts"/.test(sql);
const terminal = (e: Ev) => ["SUCCEEDED", "FAILED", "CANCELLED"].includes(e.type);

/**
 * A subscription keeps its DataLoaders for its life: selecting `attempts` costs one read per
 * event that can change them, not one per DELTA, and every event still shows the attempts as
 * they are at that point (the one attempt RUNNING while it streams, SUCCEEDED at the end).
 */
describe("subscriptions: attempts are read per state change, not per delta", () => {
  let t: TestApp;
  let statements: string[] = [];

  beforeAll(async () => {
    // One job at a time: a blocker ahead in the queue keeps the streamed generation QUEUED until both subscribers are on.
    t = await startTestApp({ worker: { concurrency: 1 } }, { onQuery: (sql) => statements.push(sql) });
  });
  afterAll(async () => {
    await t?.close();
  });

  it("generationUpdated and myGenerations over a multi-delta stream", async () => {
    const user = await t.createUser();
    const create = async (key: string, prompt: string, latencyMs: number) => {
      const res = await t.gql(key, CREATE, { input: { modality: "TEXT", model: "simulated/text", prompt, params: { simulate: { latencyMs } } } });
      expect(res.errors).toBeUndefined();
      return res.data!.createGeneration.id as string;
    };
    await create(t.adminKey, "blocker", 1500);
    statements = [];
    const mine = collect<Ev>(t.wsClient(user.key), MINE, {}, terminal, 30_000);
    const id = await create(user.key, "Stream a long enough answer for many deltas, please", 1200);
    const one = collect<Ev>(t.wsClient(user.key), ONE, { id }, terminal, 30_000);
    const [a, b] = await Promise.all([one.done, mine.done]);
    const reads = statements.filter(isAttemptsRead).length;
    expect(one.errors).toEqual([]);
    expect(mine.errors).toEqual([]);

    for (const events of [a, b]) {
      expect(events.at(-1)!.type).toBe("SUCCEEDED");
      for (const e of events) {
        expect(e.generation.id).toBe(id);
        const want = e.type === "SUCCEEDED" ? "SUCCEEDED" : e.type === "DELTA" || e.type === "STARTED" ? "RUNNING" : undefined;
        if (want) expect(e.generation.attempts, `${e.type} #${e.seq}`).toEqual([{ attemptNo: 1, status: want }]);
      }
    }
    const deltas = [a, b].flat().filter((e) => e.type === "DELTA").length;
    const others = [a, b].flat().filter((e) => e.type !== "DELTA").length;
    expect(a.filter((e) => e.type === "DELTA").length).toBeGreaterThanOrEqual(5);
    // Each subscriber reads at each non-DELTA event and at the first DELTA of a streak; the rest come from its loaders.
    expect(reads, statements.filter(isAttemptsRead).join("\n")).toBeLessThanOrEqual(others + 2);
    expect(reads).toBeLessThan(deltas);
  }, 60_000);
});
