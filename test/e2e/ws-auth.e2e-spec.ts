/**
 * WebSocket auth: a client can tell why it was refused. Each cause closes with its own code and
 * reason (src/http/ws-auth.ts), seen through a real graphql-ws client.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WS_AUTH_CLOSE } from "../../src/http/ws-auth";
import { startTestApp, type TestApp } from "../helpers/test-app";

interface Closed {
  code: number;
  reason: string;
}

/** Subscribes with `key` and resolves with how the socket closed (and the events it got meanwhile). */
function attempt(t: TestApp, key: string | null): { closed: Promise<Closed>; events: unknown[] } {
  let onClose!: (c: Closed) => void;
  const closed = new Promise<Closed>((r) => (onClose = r));
  const events: unknown[] = [];
  const ws = t.wsClient(key, { onClose: (code, reason) => onClose({ code, reason }) });
  ws.subscribe({ query: `subscription { myGenerations { seq } }` }, { next: (v) => void events.push(v), error: () => undefined, complete: () => undefined });
  return { closed, events };
}

const within = <T>(p: Promise<T>, ms: number, label: string) =>
  Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`timed out: ${label}`)), ms).unref())]);

describe("WebSocket auth close codes", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => t?.close());

  it("the codes are distinct, in graphql-ws's 4xxx range, and each reason fits a close frame", () => {
    const codes = Object.values(WS_AUTH_CLOSE).map((c) => c.code);
    expect(new Set(codes).size).toBe(codes.length);
    expect(WS_AUTH_CLOSE).toMatchObject({ missing: { code: 4401 }, invalid: { code: 4403 }, revoked: { code: 4410 }, expired: { code: 4419 } });
    for (const c of Object.values(WS_AUTH_CLOSE)) expect(Buffer.byteLength(c.reason)).toBeLessThanOrEqual(123);
  });

  it("no key: 4401 Unauthorized, saying where the key goes", async () => {
    const a = attempt(t, null);
    const c = await within(a.closed, 10_000, "close without key");
    expect(c).toEqual({ code: 4401, reason: WS_AUTH_CLOSE.missing.reason });
    expect(c.reason).toMatch(/connectionParams\.authorization/);
    expect(a.events).toEqual([]);
  });

  it("a malformed or unknown key: 4403 invalid", async () => {
    for (const key of ["nonsense", `sb_abcdefgh_${"d".repeat(32)}`]) {
      const a = attempt(t, key);
      expect(await within(a.closed, 10_000, `close for ${key}`), key).toEqual({ code: 4403, reason: WS_AUTH_CLOSE.invalid.reason });
      expect(a.events).toEqual([]);
    }
  });

  it("a real key with a wrong secret is invalid, not revoked", async () => {
    const u = await t.createUser();
    const forged = u.key.slice(0, 12) + (u.key[12] === "a" ? "b" : "a") + u.key.slice(13);
    const a = attempt(t, forged);
    expect((await within(a.closed, 10_000, "close for forged key")).code).toBe(4403);
  });

  it("a revoked key: 4410 at connect", async () => {
    const u = await t.createUser();
    const [key] = await t.app.services.apiKeys.listKeys(u.id);
    await t.app.services.apiKeys.revoke(key.id);
    const a = attempt(t, u.key);
    expect(await within(a.closed, 10_000, "close for revoked key")).toEqual({ code: 4410, reason: WS_AUTH_CLOSE.revoked.reason });
  });

  it("revoking the key of an open socket closes it with the same 4410", async () => {
    const u = await t.createUser();
    let onClose!: (c: Closed) => void;
    const closed = new Promise<Closed>((r) => (onClose = r));
    let gotEvent!: () => void;
    const live = new Promise<void>((r) => (gotEvent = r));
    const ws = t.wsClient(u.key, { onClose: (code, reason) => onClose({ code, reason }) });
    ws.subscribe({ query: `subscription { myGenerations { seq } }` }, { next: () => gotEvent(), error: () => undefined, complete: () => undefined });
    // The socket is authenticated and subscribed once an event of this user arrives.
    for (let i = 0; i < 20; i++) {
      await t.gql(u.key, `mutation { createGeneration(input: {modality: TEXT, model: "simulated/text", prompt: "open ${i}"}) { id } }`);
      if (await Promise.race([live.then(() => true), new Promise((r) => setTimeout(() => r(false), 500))])) break;
    }
    const [key] = await t.app.services.apiKeys.listKeys(u.id);
    await t.app.services.apiKeys.revoke(key.id);
    expect(await within(closed, 10_000, "close after revoke")).toEqual({ code: 4410, reason: WS_AUTH_CLOSE.revoked.reason });
  });

  it("a valid key stays connected", async () => {
    const u = await t.createUser();
    const ws = t.wsClient(u.key);
    const res = await new Promise<any>((resolve, reject) =>
      ws.subscribe({ query: `query { me { id } }` }, { next: resolve, error: reject, complete: () => undefined }),
    );
    expect(res.data.me.id).toBe(u.id);
  });
});
