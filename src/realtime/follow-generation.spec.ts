import { describe, expect, it, vi } from "vitest";
import { coalescePerTurn, EARLY_SUBSCRIBE_WAIT_MS, followGeneration, subscribeBeforeCreate } from "./follow-generation";
import type { GenerationView } from "./generation-event";

const turn = () => new Promise((r) => setImmediate(r));

describe("coalescePerTurn", () => {
  it("shares one call per key among the callers of one turn, started after the last of them asked", async () => {
    const calls: string[] = [];
    const asked: string[] = [];
    const get = coalescePerTurn(async (id: string) => {
      calls.push(`${id} after ${asked.length} asked`);
      return { id };
    });
    asked.push("a");
    const a1 = get("a", "a");
    await Promise.resolve(); // a later microtask of the same turn still joins
    asked.push("a");
    const a2 = get("a", "a");
    asked.push("b");
    const b = get("b", "b");
    expect(calls).toEqual([]); // nothing starts while the turn may still add callers
    const [r1, r2, rb] = await Promise.all([a1, a2, b]);
    expect(r1).toBe(r2);
    expect(rb).toEqual({ id: "b" });
    expect(calls).toEqual(["a after 3 asked", "b after 3 asked"]);
    // A caller of a later turn gets a call of its own, made after it asked.
    const a3 = await get("a", "a");
    expect(a3).not.toBe(r1);
    expect(calls).toHaveLength(3);
  });

  it("gives every caller of a failed call its error; the next turn calls again", async () => {
    let n = 0;
    const get = coalescePerTurn(async (_: number) => {
      n++;
      if (n === 1) throw new Error("down");
      return n;
    });
    const results = await Promise.allSettled([get("k", 1), get("k", 1)]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    expect(await get("k", 1)).toBe(2);
  });
});

describe("followGeneration", () => {
  it("two followers of one generation subscribing in one turn share one stream read, made after both subscribed", async () => {
    const order: string[] = [];
    const bus = {
      subscribe: async () => {
        order.push("subscribe");
        return () => undefined;
      },
      readStream: async () => {
        order.push("readStream");
        return { seq: 3, text: "abc" };
      },
    };
    const gen = { id: "g1", userId: "u1", status: "RUNNING", progress: 0.5, output: null, createdAt: new Date(), startedAt: null, completedAt: null } as unknown as GenerationView;
    const [x, y] = await Promise.all([followGeneration(bus, gen, async () => gen), followGeneration(bus, gen, async () => gen)]);
    expect(order).toEqual(["subscribe", "subscribe", "readStream"]);
    const firsts = [];
    for (const it of [x, y]) {
      const first = await it.next();
      expect(first.value).toMatchObject({ type: "SNAPSHOT", seq: 3, text: "abc", generationId: "g1" });
      firsts.push(first.value);
      await it.return!();
    }
    // The same read and the same reloaded row: one SNAPSHOT object (its execution is then shared per group).
    expect(firsts[0]).toBe(firsts[1]);
    // Another reload (another viewer's read) gets its own SNAPSHOT, even from the same stream read.
    const other = { ...gen };
    const [p, q] = await Promise.all([followGeneration(bus, gen, async () => gen), followGeneration(bus, gen, async () => other)]);
    const [sp, sq] = [(await p.next()).value, (await q.next()).value];
    expect(sp).not.toBe(sq);
    expect(sq).toMatchObject({ type: "SNAPSHOT", seq: 3, generationId: "g1" });
    order.length = 0;
    // A follower of a later turn reads again.
    await turn();
    await followGeneration(bus, gen, async () => gen);
    expect(order).toEqual(["subscribe", "readStream"]);
  });
});

describe("subscribeBeforeCreate", () => {
  const gen = { id: "g2", userId: "u1", status: "QUEUED", progress: 0, output: null, createdAt: new Date(), startedAt: null, completedAt: null } as unknown as GenerationView;
  const ev = (seq: number, type: string) => ({ seq, type, generationId: "g2", userId: "u1", at: "", progress: 0, generation: gen }) as never;

  it("events that arrive before the generation is created come after its seq-0 SNAPSHOT, in order, once each; ends after the terminal one", async () => {
    let on!: (p: never) => void;
    let unsubscribed = 0;
    const bus = { subscribe: async (_t: unknown, _id: unknown, cb: (p: never) => void) => ((on = cb), () => void unsubscribed++) };
    const early = (await subscribeBeforeCreate(bus as never, "g2"))!;
    on(ev(1, "QUEUED"));
    on(ev(2, "STARTED"));
    on(ev(2, "STARTED")); // delivered twice: seen once
    const it = early.follow(gen);
    on(ev(3, "DELTA"));
    on(ev(4, "SUCCEEDED"));
    const seen: string[] = [];
    for await (const e of it) seen.push(`${e.seq}:${e.type}`);
    expect(seen).toEqual(["0:SNAPSHOT", "1:QUEUED", "2:STARTED", "3:DELTA", "4:SUCCEEDED"]);
    expect(unsubscribed).toBe(1);
  });

  it("a subscription not live in time, or refused, gives null (the caller follows the usual way); a late one is dropped", async () => {
    vi.useFakeTimers();
    try {
      let ack!: (un: () => void) => void;
      let dropped = 0;
      const slow = { subscribe: () => new Promise<() => void>((r) => (ack = r)) };
      const pending = subscribeBeforeCreate(slow as never, "g2");
      await vi.advanceTimersByTimeAsync(EARLY_SUBSCRIBE_WAIT_MS);
      expect(await pending).toBeNull();
      ack(() => void dropped++);
      await vi.advanceTimersByTimeAsync(0);
      expect(dropped).toBe(1);
    } finally {
      vi.useRealTimers();
    }
    const down = { subscribe: async () => Promise.reject(new Error("redis down")) };
    expect(await subscribeBeforeCreate(down as never, "g2")).toBeNull();
  });
});
