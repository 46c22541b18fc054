/**
 * graphql-ws's own client (lazy, the default) closes its socket when a subscription is disposed in
 * its `next` handler on the last event while the server's `complete` for it comes in the same read
 * (the client's release runs twice): every other subscription on that client completes silently.
 * The server holds a self-ended subscription's `complete` (mapEvents in src/http/shared-execution.ts), so the
 * natural "dispose generationUpdated on its terminal event" leaves the client's other
 * subscriptions open. These use the real graphql-ws client, as users do.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../helpers/test-app";

const MINE = "subscription { myGenerations { seq type generation { id } } }";
const ONE = "subscription($id: ID!) { generationUpdated(id: $id) { seq type generation { id status } } }";
const CREATE = "mutation($input: CreateGenerationInput!) { createGeneration(input: $input) { id } }";
const TERMINAL = new Set(["SUCCEEDED", "FAILED", "CANCELLED"]);

interface Ev {
  seq: number;
  type: string;
  generation: { id: string; status?: string };
}

async function until(ok: () => boolean, what: () => string, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out: ${what()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("graphql-ws: a subscription disposed on its terminal event", () => {
  let t: TestApp;
  beforeAll(async () => {
    // A hold far longer than a loaded test process ever takes to read a frame and answer it.
    t = await startTestApp({ limits: { wsCompleteHoldMs: 3000 } });
  });
  afterAll(async () => {
    await t?.close();
  });

  const create = async (key: string, prompt: string, latencyMs: number) => {
    const res = await t.gql(key, CREATE, { input: { modality: "TEXT", model: "simulated/text", prompt, params: { simulate: { latencyMs } } } });
    expect(res.errors).toBeUndefined();
    return res.data!.createGeneration.id as string;
  };

  it("leaves the client's other subscriptions open: myGenerations on the same client sees the next generation", async () => {
    const u = await t.createUser();
    const client = t.wsClient(u.key);
    const mine: Ev[] = [];
    const mineEnd: string[] = [];
    client.subscribe<{ myGenerations: Ev }>({ query: MINE }, {
      next: (v) => void (v.data && mine.push(v.data.myGenerations)),
      error: (e) => void mineEnd.push(`error ${String((e as Error)?.message ?? JSON.stringify(e))}`),
      complete: () => void mineEnd.push("complete"),
    });
    const first = await create(u.key, "the one followed and disposed", 800);
    const followed: Ev[] = [];
    const dispose = client.subscribe<{ generationUpdated: Ev }>({ query: ONE, variables: { id: first } }, {
      next: (v) => {
        const ev = v.data?.generationUpdated;
        if (!ev) return;
        followed.push(ev);
        // Disposed in the same handler as its terminal event: what "stop listening when it is done" looks like.
        if (TERMINAL.has(ev.type) || (ev.type === "SNAPSHOT" && TERMINAL.has(ev.generation.status ?? ""))) dispose();
      },
      error: () => undefined,
      complete: () => undefined,
    });
    await until(() => followed.some((e) => TERMINAL.has(e.type) || TERMINAL.has(e.generation.status ?? "")), () => JSON.stringify(followed));
    await until(() => mine.some((e) => e.generation.id === first && e.type === "SUCCEEDED"), () => JSON.stringify(mine));
    // Past the moment the old server wrote its `complete` beside the terminal event.
    await new Promise((r) => setTimeout(r, 300));
    expect(mineEnd).toEqual([]);

    const second = await create(u.key, "the next one", 0);
    await until(() => mine.some((e) => e.generation.id === second && e.type === "SUCCEEDED") || mineEnd.length > 0, () => JSON.stringify(mine.slice(-5)));
    expect(mineEnd).toEqual([]);
    expect(mine.filter((e) => e.generation.id === second).map((e) => e.type)).toContain("SUCCEEDED");
  }, 60_000);

  it("a subscriber that does not dispose still gets complete after the terminal event", async () => {
    const u = await t.createUser();
    const client = t.wsClient(u.key);
    const id = await create(u.key, "followed to its end", 300);
    const events: Ev[] = [];
    const ended = await new Promise<string>((resolve) => {
      client.subscribe<{ generationUpdated: Ev }>({ query: ONE, variables: { id } }, {
        next: (v) => void (v.data && events.push(v.data.generationUpdated)),
        error: (e) => resolve(`error ${JSON.stringify(e)}`),
        complete: () => resolve("complete"),
      });
    });
    expect(ended).toBe("complete");
    const last = events.at(-1)!;
    expect(TERMINAL.has(last.type) || TERMINAL.has(last.generation.status ?? "")).toBe(true);
  }, 60_000);
});
