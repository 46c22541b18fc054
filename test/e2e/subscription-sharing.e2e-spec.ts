import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collect, startTestApp, type TestApp } from "../helpers/test-app";

/**
 * The API node executes and serialises an event once for every subscription that must see the
 * same result (src/http/shared-execution.ts). These try to break that sharing: the same document
 * from two users, from an admin, on one socket and on several, with another selection set, and
 * with the same document but another generation's id.
 */
const FIELDS = "seq type generation { id status prompt user { id } }";
const MINE = `subscription { myGenerations { ${FIELDS} } }`;
const MINE_OTHER = "subscription { myGenerations { type generation { id model } } }";
const ONE = `subscription($id: ID!) { generationUpdated(id: $id) { ${FIELDS} } }`;
const CREATE = "mutation($input: CreateGenerationInput!) { createGeneration(input: $input) { id } }";

interface Ev {
  seq?: number;
  type: string;
  generation: { id: string; status?: string; prompt?: string; model?: string; user?: { id: string } };
}
const terminal = (id: string) => (e: Ev) => e.generation.id === id && ["SUCCEEDED", "FAILED", "CANCELLED"].includes(e.type);

describe("subscriptions: shared execution never crosses viewers or selections", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ worker: { concurrency: 4 } });
  });
  afterAll(async () => {
    await t?.close();
  });

  it("two users with the same myGenerations document see only their own events; another selection gets its own fields", async () => {
    const a = await t.createUser();
    const b = await t.createUser();
    const admin = await t.createUser(undefined, { admin: true });
    const create = async (key: string, prompt: string) => {
      // Long enough a stream that every subscription opened just before is live for most of it.
      const res = await t.gql(key, CREATE, { input: { modality: "TEXT", model: "simulated/text", prompt, params: { simulate: { latencyMs: 1500 } } } });
      expect(res.errors).toBeUndefined();
      return res.data!.createGeneration.id as string;
    };
    const aSocket1 = t.wsClient(a.key);
    const aSocket2 = t.wsClient(a.key);
    const bSocket = t.wsClient(b.key);
    const adminSocket = t.wsClient(admin.key);
    // Opened before the generations exist: they end with the terminal event of the viewer's own generation.
    const ids: Record<string, string> = {};
    const until = (who: "a" | "b" | "admin") => (e: Ev) => !!ids[who] && terminal(ids[who])(e);
    const a1 = collect<Ev>(aSocket1, MINE, {}, until("a"), 45_000);
    const a2 = collect<Ev>(aSocket2, MINE, {}, until("a"), 45_000);
    const a3 = collect<Ev>(aSocket1, MINE_OTHER, {}, until("a"), 45_000);
    const b1 = collect<Ev>(bSocket, MINE, {}, until("b"), 45_000);
    const b2 = collect<Ev>(bSocket, MINE, {}, until("b"), 45_000);
    const adm = collect<Ev>(adminSocket, MINE, {}, until("admin"), 45_000);
    await new Promise((r) => setTimeout(r, 300));
    [ids.a, ids.b, ids.admin] = await Promise.all([create(a.key, "alpha secret"), create(b.key, "bravo secret"), create(admin.key, "admin secret")]);
    // generationUpdated with the same document: the owner follows it; another user asking for it is refused, per subscriber.
    const aOne = collect<Ev>(aSocket2, ONE, { id: ids.a }, terminal(ids.a), 45_000);
    const bOne = collect<Ev>(bSocket, ONE, { id: ids.a }, () => false, 45_000);
    const [ea1, ea2, ea3, eb1, eb2, eadm, eaOne, ebOne] = await Promise.all([a1.done, a2.done, a3.done, b1.done, b2.done, adm.done, aOne.done, bOne.done]);

    for (const c of [a1, a2, a3, b1, b2, adm, aOne]) expect(c.errors).toEqual([]);
    const own = (events: Ev[], id: string, userId: string, prompt: string) => {
      expect(events.length).toBeGreaterThan(0);
      for (const e of events) {
        expect(e.generation.id).toBe(id);
        if (e.generation.prompt !== undefined) expect(e.generation.prompt).toBe(prompt);
        if (e.generation.user) expect(e.generation.user.id).toBe(userId);
      }
      expect(events.at(-1)!.type).toBe("SUCCEEDED");
    };
    own(ea1, ids.a, a.id, "alpha secret");
    own(ea2, ids.a, a.id, "alpha secret");
    own(ea3, ids.a, a.id, "alpha secret");
    own(eb1, ids.b, b.id, "bravo secret");
    own(eb2, ids.b, b.id, "bravo secret");
    own(eadm, ids.admin, admin.id, "admin secret");
    own(eaOne, ids.a, a.id, "alpha secret");
    // The same event reaches both of a's sockets as the same frame.
    expect(ea1.at(-1)).toEqual(ea2.at(-1));
    // A subscriber with another selection gets exactly its fields, and the others theirs.
    for (const e of ea3) {
      expect(Object.keys(e).sort()).toEqual(["generation", "type"]);
      expect(Object.keys(e.generation).sort()).toEqual(["id", "model"]);
    }
    for (const e of [...ea1, ...eb1]) {
      expect(Object.keys(e).sort()).toEqual(["generation", "seq", "type"]);
      expect(Object.keys(e.generation).sort()).toEqual(["id", "prompt", "status", "user"]);
    }
    // b's subscription to a's generation: an error, never a's data.
    expect(ebOne).toEqual([]);
    expect(bOne.errors.length).toBeGreaterThan(0);
    expect(JSON.stringify(bOne.errors)).not.toContain("alpha secret");
  }, 90_000);
});
