/**
 * Accounts and virtual keys in GraphQL (issue 17): admins manage users, everyone their own keys;
 * a rotated key keeps working for its overlap and then stops on every node, an expired key is
 * refused with its reason (GraphQL, WebSocket 4419, /v1 401), and a disabled user's keys stop on
 * both nodes at once with their sockets closed. Two app instances share the database and Redis.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WS_AUTH_CLOSE } from "../../src/http/ws-auth";
import { startTestApp, type TestApp } from "../helpers/test-app";

interface Closed {
  code: number;
  reason: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const within = <T>(p: Promise<T>, ms: number, label: string) =>
  Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`timed out: ${label}`)), ms).unref())]);

/** Polls `f` until it returns true (generous: the machine is loaded). */
async function eventually(f: () => Promise<boolean>, label: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await f()) return;
    await sleep(100);
  }
  throw new Error(`never happened: ${label}`);
}

/** A socket authenticated with `key` (a `me` query answered over it), and how it later closes. */
async function openSocket(t: TestApp, key: string): Promise<{ closed: Promise<Closed>; isClosed: () => boolean }> {
  let onClose!: (c: Closed) => void;
  let done = false;
  const closed = new Promise<Closed>((r) => (onClose = (c) => ((done = true), r(c))));
  const ws = t.wsClient(key, { onClose: (code, reason) => onClose({ code, reason }) });
  // A subscription keeps the (lazy) socket open; the `me` answer on it says it is authenticated.
  ws.subscribe({ query: `subscription { myGenerations { seq } }` }, { next: () => undefined, error: () => undefined, complete: () => undefined });
  const res = await new Promise<any>((resolve, reject) => ws.subscribe({ query: `query { me { id } }` }, { next: resolve, error: reject, complete: () => undefined }));
  expect(res.data.me.id).toBeTruthy();
  return { closed, isClosed: () => done };
}

/** How a fresh socket with `key` is refused at connect. */
function refusedAtConnect(t: TestApp, key: string): Promise<Closed> {
  let onClose!: (c: Closed) => void;
  const closed = new Promise<Closed>((r) => (onClose = r));
  const ws = t.wsClient(key, { onClose: (code, reason) => onClose({ code, reason }) });
  ws.subscribe({ query: `subscription { myGenerations { seq } }` }, { next: () => undefined, error: () => undefined, complete: () => undefined });
  return within(closed, 15_000, "refused at connect");
}

const ME = `query { me { id email tier disabled } }`;

/** Opens a GraphQL-over-SSE subscription (/graphql/stream); `ended` resolves when the server cuts or ends it. */
async function openSse(t: TestApp, key: string): Promise<{ ended: Promise<number> }> {
  const res = await fetch(`http://127.0.0.1:${t.port}/graphql/stream`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, accept: "text/event-stream", "content-type": "application/json" },
    body: JSON.stringify({ query: `subscription { myGenerations { seq } }` }),
  });
  expect(res.status).toBe(200);
  const reader = res.body!.getReader();
  const ended = (async () => {
    try {
      while (!(await reader.read()).done);
    } catch {
      // cut by the server: the same end for this test
    }
    return Date.now();
  })();
  return { ended };
}
const code = (r: { errors?: { extensions?: Record<string, any> }[] }) => r.errors?.[0]?.extensions?.code;
const KEY_FIELDS = `id userId label prefix status createdAt revokedAt expiresAt budgetUsd allowedModels rateLimitPerMinute`;
const CREATE_KEY = `mutation($label: String, $expiresAt: DateTime, $budgetUsd: Float, $allowedModels: [String!], $rateLimitPerMinute: Int, $userId: ID) {
  createApiKey(label: $label, expiresAt: $expiresAt, budgetUsd: $budgetUsd, allowedModels: $allowedModels, rateLimitPerMinute: $rateLimitPerMinute, userId: $userId) { secret apiKey { ${KEY_FIELDS} } } }`;
const ROTATE = `mutation($id: ID!, $overlap: Int) { rotateApiKey(id: $id, overlapSeconds: $overlap) { secret apiKey { ${KEY_FIELDS} } previous { ${KEY_FIELDS} } } }`;
const CREATE_USER = `mutation($email: String!, $tier: Tier, $role: Role) { createUser(email: $email, tier: $tier, role: $role) { secret user { id email role tier disabled } apiKey { ${KEY_FIELDS} } } }`;
const UPDATE_USER = `mutation($id: ID!, $tier: Tier, $disabled: Boolean) { updateUser(id: $id, tier: $tier, disabled: $disabled) { id tier disabled disabledAt } }`;

describe("accounts and virtual keys", () => {
  let a: TestApp;
  let b: TestApp;
  beforeAll(async () => {
    a = await startTestApp();
    b = await startTestApp({}, { workers: false, db: a.db, prefix: a.config.redis.prefix });
  }, 60_000);
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  /** An admin-made user and its key, through GraphQL. */
  async function newUser(tier = "FREE"): Promise<{ id: string; key: string; keyId: string; email: string }> {
    const email = `u-${Math.random().toString(36).slice(2)}@accounts.test`;
    const r = await a.gql(a.adminKey, CREATE_USER, { email, tier });
    expect(r.errors).toBeUndefined();
    const c = r.data!.createUser;
    return { id: c.user.id, key: c.secret, keyId: c.apiKey.id, email };
  }

  it("an admin creates a user, who signs in with the key shown once; its key has no hash in the schema", async () => {
    const email = `first-${Date.now()}@accounts.test`;
    const r = await a.gql(a.adminKey, CREATE_USER, { email, tier: "PRO" });
    expect(r.errors).toBeUndefined();
    const c = r.data!.createUser;
    expect(c.user).toMatchObject({ email, role: "USER", tier: "PRO", disabled: false });
    expect(c.secret).toMatch(/^sb_[A-Za-z0-9]{8}_/);
    expect(c.apiKey).toMatchObject({ userId: c.user.id, status: "ACTIVE", prefix: c.secret.slice(3, 11), revokedAt: null, expiresAt: null });
    expect((await b.gql(c.secret, ME)).data!.me).toMatchObject({ id: c.user.id, tier: "PRO" });
    expect(code(await a.gql(a.adminKey, `query { apiKeys { keyHash } }`))).toBe("GRAPHQL_VALIDATION_FAILED");
    // Same email in other case: CONFLICT; not an email: BAD_USER_INPUT.
    expect(code(await a.gql(a.adminKey, CREATE_USER, { email: email.toUpperCase() }))).toBe("CONFLICT");
    const bad = await a.gql(a.adminKey, CREATE_USER, { email: "not-an-email" });
    expect(code(bad)).toBe("BAD_USER_INPUT");
    expect(bad.errors![0].message).toMatch(/not an email address/);
  });

  it("a non-admin can call none of the admin operations (FORBIDDEN)", async () => {
    const u = await newUser();
    const other = await newUser();
    expect(code(await a.gql(u.key, CREATE_USER, { email: "x@accounts.test" }))).toBe("FORBIDDEN");
    expect(code(await a.gql(u.key, `query { users { edges { node { id } } } }`))).toBe("FORBIDDEN");
    expect(code(await a.gql(u.key, UPDATE_USER, { id: u.id, tier: "ENTERPRISE" }))).toBe("FORBIDDEN");
    expect(code(await a.gql(u.key, `query($id: ID) { apiKeys(userId: $id) { id } }`, { id: other.id }))).toBe("FORBIDDEN");
    expect(code(await a.gql(u.key, CREATE_KEY, { userId: other.id }))).toBe("FORBIDDEN");
    // Someone else's key: NOT_FOUND, as for a key that does not exist (its existence is not confirmed).
    expect(code(await a.gql(u.key, `mutation($id: ID!) { revokeApiKey(id: $id) { id } }`, { id: other.keyId }))).toBe("NOT_FOUND");
    expect(code(await a.gql(u.key, ROTATE, { id: other.keyId, overlap: 10 }))).toBe("NOT_FOUND");
    expect(code(await a.gql(u.key, `mutation { revokeApiKey(id: "00000000-0000-0000-0000-000000000000") { id } }`))).toBe("NOT_FOUND");
    expect((await a.gql(other.key, ME)).data!.me.id).toBe(other.id); // untouched
    // No key at all: UNAUTHENTICATED.
    expect(code(await a.gql(null, `query { apiKeys { id } }`))).toBe("UNAUTHENTICATED");
  });

  it("users: a cursor connection with filters", async () => {
    const tag = Math.random().toString(36).slice(2, 8);
    for (let i = 0; i < 5; i++) expect((await a.gql(a.adminKey, CREATE_USER, { email: `page-${tag}-${i}@accounts.test`, tier: i % 2 ? "PRO" : "FREE" })).errors).toBeUndefined();
    const Q = `query($first: Int, $after: String, $filter: UserFilter) { users(first: $first, after: $after, filter: $filter) { edges { cursor node { email tier } } pageInfo { hasNextPage endCursor } } }`;
    const seen: string[] = [];
    let after: string | null = null;
    for (;;) {
      const r: any = await a.gql(a.adminKey, Q, { first: 2, after, filter: { emailContains: `PAGE-${tag}` } });
      expect(r.errors).toBeUndefined();
      seen.push(...r.data.users.edges.map((e: any) => e.node.email));
      if (!r.data.users.pageInfo.hasNextPage) break;
      after = r.data.users.pageInfo.endCursor;
    }
    expect(seen).toEqual([0, 1, 2, 3, 4].map((i) => `page-${tag}-${i}@accounts.test`));
    const pro = await a.gql(a.adminKey, Q, { filter: { emailContains: tag, tier: "PRO" } });
    expect(pro.data!.users.edges.map((e: any) => e.node.email)).toEqual([1, 3].map((i) => `page-${tag}-${i}@accounts.test`));
    expect(code(await a.gql(a.adminKey, Q, { first: 0 }))).toBe("BAD_USER_INPUT");
    expect(code(await a.gql(a.adminKey, Q, { after: "nope" }))).toBe("BAD_USER_INPUT");
  });

  it("a user creates keys with limits, lists and revokes them; bad limits are BAD_USER_INPUT", async () => {
    const u = await newUser();
    const expiresAt = new Date(Date.now() + 3600_000).toISOString();
    const r = await a.gql(u.key, CREATE_KEY, { label: "ci", expiresAt, budgetUsd: 2.5, allowedModels: ["simulated/text", "simulated/text"], rateLimitPerMinute: 30 });
    expect(r.errors).toBeUndefined();
    const k = r.data!.createApiKey;
    expect(k.apiKey).toMatchObject({ userId: u.id, label: "ci", status: "ACTIVE", budgetUsd: 2.5, allowedModels: ["simulated/text"], rateLimitPerMinute: 30 });
    expect(new Date(k.apiKey.expiresAt).toISOString()).toBe(expiresAt);
    expect((await a.gql(k.secret, ME)).data!.me.id).toBe(u.id);
    const list = await a.gql(u.key, `query { apiKeys { id label status } }`);
    expect(list.data!.apiKeys.map((x: any) => x.id)).toEqual([u.keyId, k.apiKey.id]);
    // The same keys through me.apiKeys.
    expect((await a.gql(u.key, `query { me { apiKeys { id } } }`)).data!.me.apiKeys).toHaveLength(2);

    for (const [vars, field] of [
      [{ budgetUsd: -1 }, "budgetUsd"],
      [{ rateLimitPerMinute: 0 }, "rateLimitPerMinute"],
      [{ allowedModels: [] }, "allowedModels"],
      [{ allowedModels: ["has space"] }, "allowedModels"],
      [{ expiresAt: new Date(Date.now() - 1000).toISOString() }, "expiresAt"],
      [{ label: "" }, "label"],
    ] as const) {
      const bad = await a.gql(u.key, CREATE_KEY, vars);
      expect(code(bad), JSON.stringify(vars)).toBe("BAD_USER_INPUT");
      expect(bad.errors![0].message, JSON.stringify(vars)).toContain(field);
    }
    expect(code(await a.gql(u.key, ROTATE, { id: k.apiKey.id, overlap: -1 }))).toBe("BAD_USER_INPUT");

    const revoked = await a.gql(u.key, `mutation($id: ID!) { revokeApiKey(id: $id) { id status revokedAt } }`, { id: k.apiKey.id });
    expect(revoked.data!.revokeApiKey).toMatchObject({ id: k.apiKey.id, status: "REVOKED" });
    for (const node of [a, b]) {
      const refused = await node.gql(k.secret, ME);
      expect(code(refused)).toBe("UNAUTHENTICATED");
      expect(refused.errors![0].extensions!.reason).toBe("revoked");
    }
    // An admin may make a key for someone else.
    const forU = await a.gql(a.adminKey, CREATE_KEY, { userId: u.id, label: "from-admin" });
    expect(forU.data!.createApiKey.apiKey.userId).toBe(u.id);
    expect((await b.gql(forU.data!.createApiKey.secret, ME)).data!.me.id).toBe(u.id);
  });

  it("rotate with overlap: the old key works on both nodes until the overlap ends, then stops everywhere (sockets closed 4419)", async () => {
    const u = await newUser();
    // Both nodes have the old key cached (a long cache TTL): the rotation must reach their caches.
    expect((await a.gql(u.key, ME)).data!.me.id).toBe(u.id);
    expect((await b.gql(u.key, ME)).data!.me.id).toBe(u.id);
    const sockA = await openSocket(a, u.key);
    const sockB = await openSocket(b, u.key);
    const overlap = 3;
    const r = await a.gql(u.key, ROTATE, { id: u.keyId, overlap });
    expect(r.errors).toBeUndefined();
    const rot = r.data!.rotateApiKey;
    expect(rot.previous).toMatchObject({ id: u.keyId, status: "ACTIVE", revokedAt: null });
    const endsAt = new Date(rot.previous.expiresAt).getTime();
    expect(endsAt).toBeGreaterThan(Date.now());
    expect(rot.apiKey).toMatchObject({ status: "ACTIVE", expiresAt: null });
    expect(rot.secret).not.toBe(u.key);
    // During the overlap (checked only while clearly inside it): both keys work on both nodes.
    for (const node of [a, b]) {
      const before = Date.now();
      const old = await node.gql(u.key, ME);
      if (Date.now() < endsAt - 500 && before < endsAt) expect(old.data?.me.id).toBe(u.id);
      expect((await node.gql(rot.secret, ME)).data!.me.id).toBe(u.id);
    }
    if (Date.now() < endsAt - 500) expect(sockA.isClosed() || sockB.isClosed()).toBe(false);
    // After it: the sockets on both nodes close with 4419 and the old key is refused as expired.
    expect(await within(sockA.closed, 20_000, "node A socket")).toEqual({ code: 4419, reason: WS_AUTH_CLOSE.expired.reason });
    expect(await within(sockB.closed, 20_000, "node B socket")).toEqual({ code: 4419, reason: WS_AUTH_CLOSE.expired.reason });
    expect(Date.now()).toBeGreaterThanOrEqual(endsAt - 50);
    for (const node of [a, b]) {
      await eventually(async () => code(await node.gql(u.key, ME)) === "UNAUTHENTICATED", "old key refused");
      const refused = await node.gql(u.key, ME);
      expect(refused.errors![0].extensions!.reason).toBe("expired");
      expect(refused.errors![0].message).toMatch(/expired/);
      expect((await node.gql(rot.secret, ME)).data!.me.id).toBe(u.id);
    }
    expect((await refusedAtConnect(b, u.key)).code).toBe(4419);
    const listed = (await a.gql(rot.secret, `query { apiKeys { id status } }`)).data!.apiKeys;
    expect(listed).toEqual([{ id: u.keyId, status: "EXPIRED" }, { id: rot.apiKey.id, status: "ACTIVE" }]);
    // An expired key cannot be rotated again.
    expect(code(await a.gql(rot.secret, ROTATE, { id: u.keyId, overlap: 5 }))).toBe("CONFLICT");
  }, 60_000);

  it("rotate with overlap 0 revokes the old key at once on both nodes", async () => {
    const u = await newUser();
    expect((await b.gql(u.key, ME)).data!.me.id).toBe(u.id); // cached on B
    const sock = await openSocket(b, u.key);
    const r = await a.gql(u.key, ROTATE, { id: u.keyId, overlap: 0 });
    expect(r.data!.rotateApiKey.previous.status).toBe("REVOKED");
    expect(await within(sock.closed, 15_000, "revoked socket")).toEqual({ code: 4410, reason: WS_AUTH_CLOSE.revoked.reason });
    for (const node of [a, b]) expect((await node.gql(u.key, ME)).errors![0].extensions!.reason).toBe("revoked");
    expect((await b.gql(r.data!.rotateApiKey.secret, ME)).data!.me.id).toBe(u.id);
  });

  it("a key that reaches its expiresAt: open sockets close 4419, GraphQL UNAUTHENTICATED reason expired, /v1 401, even when cached", async () => {
    const u = await newUser();
    const expiresAt = new Date(Date.now() + 2500).toISOString();
    const k = (await a.gql(u.key, CREATE_KEY, { label: "short", expiresAt })).data!.createApiKey;
    // Cached on both nodes, with a socket open on each, before it expires.
    for (const node of [a, b]) expect((await node.gql(k.secret, ME)).data!.me.id).toBe(u.id);
    const sockets = [await openSocket(a, k.secret), await openSocket(b, k.secret)];
    const streams = [await openSse(a, k.secret), await openSse(b, k.secret)];
    for (const s of sockets) expect(await within(s.closed, 20_000, "expiring socket")).toEqual({ code: 4419, reason: WS_AUTH_CLOSE.expired.reason });
    // Its SSE streams end at that instant too (not left open until the client reconnects).
    for (const s of streams) expect(await within(s.ended, 20_000, "expiring SSE stream")).toBeGreaterThanOrEqual(new Date(expiresAt).getTime() - 50);
    expect(Date.now()).toBeGreaterThanOrEqual(new Date(expiresAt).getTime() - 50);
    for (const node of [a, b]) {
      const r = await node.gql(k.secret, ME);
      expect(code(r)).toBe("UNAUTHENTICATED");
      expect(r.errors![0].extensions!.reason).toBe("expired");
      expect(r.errors![0].message).toBe("The API key has expired");
      const rest = await fetch(`http://127.0.0.1:${node.port}/v1/models`, { headers: { authorization: `Bearer ${k.secret}` } });
      expect(rest.status).toBe(401);
      const body = (await rest.json()) as { error: { message: string; type: string; code: string } };
      expect(body.error).toMatchObject({ type: "authentication_error", code: "invalid_api_key" });
      expect(body.error.message).toMatch(/expired/);
      const anthropic = await fetch(`http://127.0.0.1:${node.port}/v1/messages`, {
        method: "POST", headers: { "x-api-key": k.secret, "content-type": "application/json", "anthropic-version": "2023-06-01" },
        body: JSON.stringify({ model: "simulated/text", max_tokens: 10, messages: [{ role: "user", content: "hi" }] }),
      });
      expect(anthropic.status).toBe(401);
      expect(((await anthropic.json()) as any).error.message).toMatch(/expired/);
    }
    expect(await refusedAtConnect(a, k.secret)).toEqual({ code: 4419, reason: WS_AUTH_CLOSE.expired.reason });
    expect((await a.gql(u.key, ME)).data!.me.id).toBe(u.id); // the user's other key is untouched
  }, 60_000);

  it("disabling a user stops all its keys on both nodes at once and closes their sockets; enabling lets them in again", async () => {
    const u = await newUser();
    const second = (await a.gql(u.key, CREATE_KEY, { label: "second" })).data!.createApiKey.secret as string;
    for (const node of [a, b]) for (const key of [u.key, second]) expect((await node.gql(key, ME)).data!.me.id).toBe(u.id);
    const sockets = [await openSocket(a, u.key), await openSocket(b, u.key), await openSocket(b, second)];
    const r = await a.gql(a.adminKey, UPDATE_USER, { id: u.id, disabled: true });
    expect(r.errors).toBeUndefined();
    expect(r.data!.updateUser).toMatchObject({ id: u.id, disabled: true });
    for (const s of sockets) expect(await within(s.closed, 15_000, "disabled socket")).toEqual({ code: 4423, reason: WS_AUTH_CLOSE.disabled.reason });
    for (const node of [a, b])
      for (const key of [u.key, second]) {
        const refused = await node.gql(key, ME);
        expect(code(refused)).toBe("UNAUTHENTICATED");
        expect(refused.errors![0].extensions!.reason).toBe("disabled");
      }
    expect((await refusedAtConnect(b, second)).code).toBe(4423);
    const v1 = await fetch(`http://127.0.0.1:${b.port}/v1/models`, { headers: { authorization: `Bearer ${u.key}` } });
    expect(v1.status).toBe(401);
    const listed = await a.gql(a.adminKey, `query($f: UserFilter) { users(filter: $f) { edges { node { id } } } }`, { f: { disabled: true, emailContains: u.email } });
    expect(listed.data!.users.edges).toEqual([{ node: { id: u.id } }]);
    expect(code(await a.gql(a.adminKey, UPDATE_USER, { id: (await a.gql(a.adminKey, ME)).data!.me.id, disabled: true }))).toBe("BAD_USER_INPUT");

    expect((await a.gql(a.adminKey, UPDATE_USER, { id: u.id, disabled: false })).data!.updateUser.disabled).toBe(false);
    for (const node of [a, b]) expect((await node.gql(second, ME)).data!.me.id).toBe(u.id);
  }, 60_000);

  it("a tier change is seen on both nodes at once (cached keys are purged)", async () => {
    const u = await newUser("FREE");
    for (const node of [a, b]) expect((await node.gql(u.key, ME)).data!.me.tier).toBe("FREE");
    expect((await a.gql(a.adminKey, UPDATE_USER, { id: u.id, tier: "ENTERPRISE" })).data!.updateUser.tier).toBe("ENTERPRISE");
    // me reads the user row; the viewer's tier (what limits use) comes from the key cache: a quota query shows it.
    const Q = `query { quota { tier } }`;
    for (const node of [a, b]) expect((await node.gql(u.key, Q)).data!.quota.tier).toBe("ENTERPRISE");
    expect(code(await a.gql(a.adminKey, UPDATE_USER, { id: u.id }))).toBe("BAD_USER_INPUT");
    expect(code(await a.gql(a.adminKey, UPDATE_USER, { id: "00000000-0000-0000-0000-000000000000", tier: "PRO" }))).toBe("NOT_FOUND");
  });

  it("a burst of concurrent rotations of one key on both nodes: exactly one replacement is issued, the rest CONFLICT", async () => {
    const u = await newUser();
    const other = (await a.gql(u.key, CREATE_KEY, { label: "survivor" })).data!.createApiKey.secret as string;
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? a : b).gql(other, ROTATE, { id: u.keyId, overlap: 0 })));
    const ok = results.filter((r) => !r.errors);
    expect(ok).toHaveLength(1);
    for (const r of results.filter((x) => x.errors)) expect(code(r)).toBe("CONFLICT");
    const keys = (await a.gql(other, `query { apiKeys { id status } }`)).data!.apiKeys;
    expect(keys).toHaveLength(3); // the first, the survivor, one replacement
    expect((await b.gql(ok[0].data!.rotateApiKey.secret, ME)).data!.me.id).toBe(u.id);
    for (const node of [a, b]) expect((await node.gql(u.key, ME)).errors![0].extensions!.reason).toBe("revoked");
  });
});
