import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collect, startTestApp, type GqlResult, type TestApp } from "../helpers/test-app";

const CREATE = `mutation($input: CreateGenerationInput!) { createGeneration(input: $input) { id status } }`;
const GET = `query($id: ID!) { generation(id: $id) { id prompt user { id } } }`;
const LIST = `query($filter: GenerationFilter) { generations(first: 100, filter: $filter) { edges { node { id user { id } } } } }`;
const codes = (r: GqlResult) => r.errors?.map((e) => e.extensions?.code);
/** graphql-ws hands errors over as `next` results or as an `error` sink argument (an array); flatten both. */
const errorCodes = (errors: unknown[]) => errors.flat().map((e) => (e as { extensions?: { code?: string } }).extensions?.code);

/** Awaits a condition on collected events (they arrive over the socket, after the HTTP answer). */
async function until(ok: () => boolean, ms: number, label: string): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out: ${label}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("isolation: a user sees only their own generations", () => {
  let t: TestApp;
  let a: { id: string; key: string };
  let b: { id: string; key: string };
  let aRunning: string; // A's generation, RUNNING for 20 s
  let aDone: string;
  let bDone: string;

  const create = async (key: string, input: Record<string, unknown>) => {
    const res = await t.gql(key, CREATE, { input: { modality: "TEXT", model: "simulated/text", ...input } });
    expect(res.errors).toBeUndefined();
    return res.data!.createGeneration as { id: string; status: string };
  };
  const ids = (r: GqlResult) => r.data!.generations.edges.map((e: any) => e.node.id as string);

  beforeAll(async () => {
    t = await startTestApp({ http: { shutdownGraceMs: 1000 } });
    a = await t.createUser();
    b = await t.createUser();
    aRunning = (await create(a.key, { prompt: "A's secret", params: { simulate: { latencyMs: 20_000 } } })).id;
    aDone = (await create(a.key, { prompt: "A done", wait: 10 })).id;
    bDone = (await create(b.key, { prompt: "B done", wait: 10 })).id;
  });
  afterAll(async () => {
    await t?.close();
  });

  it("B gets NOT_FOUND for A's generation, a random uuid and a non-uuid id", async () => {
    for (const id of [aRunning, aDone, randomUUID(), "not-a-uuid"]) {
      const res = await t.gql(b.key, GET, { id });
      expect(codes(res), id).toEqual(["NOT_FOUND"]);
      expect(res.data?.generation ?? null).toBeNull();
    }
    expect((await t.gql(a.key, GET, { id: aRunning })).data!.generation.prompt).toBe("A's secret");
  });

  it("B's list never contains A's generations, even when B filters by A's userId", async () => {
    for (const filter of [null, { userId: a.id }]) {
      const res = await t.gql(b.key, LIST, { filter });
      expect(res.errors).toBeUndefined();
      expect(ids(res)).toEqual([bDone]);
    }
    expect(new Set(ids(await t.gql(a.key, LIST)))).toEqual(new Set([aRunning, aDone]));
  });

  it("B cannot cancel A's generation", async () => {
    const res = await t.gql(b.key, `mutation($id: ID!) { cancelGeneration(id: $id) { id status } }`, { id: aRunning });
    expect(codes(res)).toEqual(["NOT_FOUND"]);
    const [row] = await t.app.ds.query(`SELECT status FROM generations WHERE id = $1`, [aRunning]);
    expect(["QUEUED", "RUNNING"]).toContain(row.status);
  });

  it("B cannot subscribe to A's generationUpdated", async () => {
    const sub = collect(t.wsClient(b.key), `subscription($id: ID!) { generationUpdated(id: $id) { seq type } }`, { id: aRunning }, () => true, 5000);
    expect(await sub.done).toEqual([]);
    expect(errorCodes(sub.errors)).toEqual(["NOT_FOUND"]);
  });

  it("B's myGenerations does not receive A's events", async () => {
    const sub = collect(t.wsClient(b.key), `subscription { myGenerations { type generation { id } } }`, {}, () => false, 20_000);
    // One of B's own generations proves the subscription is live (events are spread over 1 s, so it
    // cannot finish before the subscription is registered).
    const live = await create(b.key, { prompt: "B live", params: { simulate: { latencyMs: 1000, steps: 5 } }, wait: 10 });
    expect(live.status).toBe("SUCCEEDED");
    await until(() => sub.events.some((e) => e.generation.id === live.id && e.type === "SUCCEEDED"), 5000, "B's own SUCCEEDED");
    // A's generation runs to the end: its events were published to A's channel.
    expect((await create(a.key, { prompt: "A later", wait: 10 })).status).toBe("SUCCEEDED");
    await new Promise((r) => setTimeout(r, 500)); // absence: give stray events time to arrive
    expect(sub.errors).toEqual([]);
    expect(new Set(sub.events.map((e) => e.generation.id))).toEqual(new Set([live.id]));
  });

  it("ADMIN sees both users' generations, reads A's by id and filters by userId", async () => {
    const all = ids(await t.gql(t.adminKey, LIST));
    expect(all).toEqual(expect.arrayContaining([aRunning, aDone, bDone]));
    const one = await t.gql(t.adminKey, GET, { id: aRunning });
    expect(one.errors).toBeUndefined();
    expect(one.data!.generation).toMatchObject({ id: aRunning, prompt: "A's secret", user: { id: a.id } });
    const onlyB = await t.gql(t.adminKey, LIST, { filter: { userId: b.id } });
    expect(onlyB.data!.generations.edges.every((e: any) => e.node.user.id === b.id)).toBe(true);
    expect(ids(onlyB)).toContain(bDone);
    expect(ids(onlyB)).not.toContain(aDone);
  });

  it("the owner can still cancel A's generation", async () => {
    const res = await t.gql(a.key, `mutation($id: ID!) { cancelGeneration(id: $id) { id status } }`, { id: aRunning });
    expect(res.errors).toBeUndefined();
    expect(res.data!.cancelGeneration).toEqual({ id: aRunning, status: "CANCELLED" });
  });
});
