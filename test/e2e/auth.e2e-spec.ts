import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type GqlResult, type TestApp } from "../helpers/test-app";

const ME = `{ me { id } }`;
const CREATE = `mutation($input: CreateGenerationInput!) { createGeneration(input: $input) { id } }`;
const UPDATED = `subscription($id: ID!) { generationUpdated(id: $id) { seq type } }`;
const codes = (r: GqlResult) => r.errors?.map((e) => e.extensions?.code);

/** Rejects with `label` if `p` has not settled within `ms` (a clear failure instead of the test timeout). */
function within<T>(p: Promise<T>, ms: number, label: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out: ${label}`)), ms)))]).finally(() => clearTimeout(timer));
}

/** A socket with one subscription: `first` resolves with the first event, `closed` with the close code. */
function subscribe(t: TestApp, key: string | null, query: string, variables: Record<string, unknown> = {}) {
  let onClose!: (code: number) => void;
  let onFirst!: (ev: any) => void;
  const closed = new Promise<number>((r) => (onClose = r));
  const first = new Promise<any>((r) => (onFirst = r));
  const events: any[] = [];
  const ws = t.wsClient(key, { onClose: (code) => onClose(code) });
  ws.subscribe({ query, variables }, {
    next: (v) => {
      if (!v.data) return;
      const ev = Object.values(v.data)[0];
      events.push(ev);
      onFirst(ev);
    },
    error: () => undefined,
    complete: () => undefined,
  });
  return { first, closed, events };
}

describe("auth: API keys on HTTP and WebSocket", () => {
  let t: TestApp;
  let b: TestApp; // a second API node on the same database and Redis prefix
  const longRunning: string[] = [];

  beforeAll(async () => {
    t = await startTestApp({ http: { shutdownGraceMs: 1000 } });
    b = await startTestApp({ http: { shutdownGraceMs: 1000 } }, { db: t.db, prefix: t.config.redis.prefix });
  });
  afterAll(async () => {
    for (const id of longRunning) await t?.gql(t.adminKey, `mutation($id: ID!) { cancelGeneration(id: $id) { id } }`, { id });
    await b?.close();
    await t?.close();
  });

  /** A user whose generation stays RUNNING for 20 s, with a socket subscribed to it (SNAPSHOT received). */
  async function openSocket(node: TestApp, user: { key: string }) {
    const created = await node.gql(user.key, CREATE, { input: { modality: "TEXT", model: "simulated/text", prompt: "hold on", params: { simulate: { latencyMs: 20_000 } } } });
    expect(created.errors).toBeUndefined();
    const id = created.data!.createGeneration.id;
    longRunning.push(id);
    const sub = subscribe(node, user.key, UPDATED, { id });
    expect((await within(sub.first, 5000, "SNAPSHOT")).type).toBe("SNAPSHOT");
    return sub;
  }

  it("rejects requests without an Authorization header and writes nothing", async () => {
    const before = (await t.app.ds.query(`SELECT count(*)::int AS n FROM generations`))[0].n;
    expect(codes(await t.gql(null, ME))).toEqual(["UNAUTHENTICATED"]);
    expect(codes(await t.gql(null, `{ generations { edges { node { id } } } }`))).toEqual(["UNAUTHENTICATED"]);
    expect(codes(await t.gql(null, CREATE, { input: { modality: "TEXT", model: "simulated/text", prompt: "hi" } }))).toEqual(["UNAUTHENTICATED"]);
    expect((await t.app.ds.query(`SELECT count(*)::int AS n FROM generations`))[0].n).toBe(before);
  });

  it("rejects malformed and unknown keys", async () => {
    for (const key of ["nonsense", "sb_abc", `sb_abcdefgh_${"a".repeat(32)}`]) {
      const res = await t.gql(key, ME);
      expect(res.data?.me ?? null, key).toBeNull();
      expect(codes(res), key).toEqual(["UNAUTHENTICATED"]);
    }
  });

  it("a revoked key is refused on the very next request, although keys are cached for 30 s", async () => {
    expect(t.config.auth.cacheTtlMs).toBeGreaterThanOrEqual(30_000);
    const u = await t.createUser();
    expect((await t.gql(u.key, ME)).data!.me.id).toBe(u.id); // now cached on this node
    const [key] = await t.app.services.apiKeys.listKeys(u.id);
    await t.app.services.apiKeys.revoke(key.id);
    expect(codes(await t.gql(u.key, ME))).toEqual(["UNAUTHENTICATED"]);
  });

  it("closes a WebSocket at connect without a key (4401) or with a bad key (4403); ws-auth.e2e-spec.ts has every cause", async () => {
    for (const [key, code] of [[null, 4401], ["nonsense", 4403], [`sb_abcdefgh_${"b".repeat(32)}`, 4403]] as const) {
      const sub = subscribe(t, key, `subscription { myGenerations { seq } }`);
      expect(await within(sub.closed, 5000, `close for ${key}`), String(key)).toBe(code);
      expect(sub.events).toEqual([]);
    }
  });

  it("revoking a key closes its open WebSocket (4410)", async () => {
    const u = await t.createUser();
    const sub = await openSocket(t, u);
    const [key] = await t.app.services.apiKeys.listKeys(u.id);
    await t.app.services.apiKeys.revoke(key.id);
    expect(await within(sub.closed, 5000, "close after revoke")).toBe(4410);
  });

  it("revocation on node A closes node B's socket and purges B's cache", async () => {
    const u = await t.createUser();
    expect((await b.gql(u.key, ME)).data!.me.id).toBe(u.id); // cached on B
    const sub = await openSocket(b, u);
    const [key] = await t.app.services.apiKeys.listKeys(u.id);
    await t.app.services.apiKeys.revoke(key.id); // on A
    expect(await within(sub.closed, 5000, "B's socket closed")).toBe(4410);
    expect(codes(await b.gql(u.key, ME))).toEqual(["UNAUTHENTICATED"]);
  });

  it("rotating a key gives a working new key and kills the old one", async () => {
    const u = await t.createUser();
    expect((await t.gql(u.key, ME)).data!.me.id).toBe(u.id); // cache the old key
    const [old] = await t.app.services.apiKeys.listKeys(u.id);
    const fresh = await t.app.services.apiKeys.rotate(old.id);
    expect(fresh.key).not.toBe(u.key);
    expect((await t.gql(fresh.key, ME)).data!.me.id).toBe(u.id);
    expect(codes(await t.gql(u.key, ME))).toEqual(["UNAUTHENTICATED"]);
    const keys = await t.app.services.apiKeys.listKeys(u.id);
    expect(keys.filter((k) => !k.revokedAt).map((k) => k.id)).toEqual([fresh.entity.id]);
  });
});
