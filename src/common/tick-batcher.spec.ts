import { describe, expect, it } from "vitest";
import { TickBatcher } from "./tick-batcher";

describe("TickBatcher", () => {
  it("runs calls made in the same turn as one batch, results in order", async () => {
    const batches: number[][] = [];
    const b = new TickBatcher<number, number>(async (xs) => {
      batches.push(xs);
      return xs.map((x) => x * 2);
    });
    const out = await Promise.all([b.add(1), b.add(2), b.add(3)]);
    expect(out).toEqual([2, 4, 6]);
    expect(batches).toEqual([[1, 2, 3]]);
    expect(await b.add(4)).toBe(8);
    expect(batches).toEqual([[1, 2, 3], [4]]);
  });

  it("splits at maxBatch and rejects every caller of a failed batch", async () => {
    const sizes: number[] = [];
    const b = new TickBatcher<number, number>(async (xs) => {
      sizes.push(xs.length);
      if (xs.includes(-1)) throw new Error("boom");
      return xs;
    }, 2);
    const results = await Promise.allSettled([b.add(1), b.add(2), b.add(-1), b.add(3)]);
    expect(sizes).toEqual([2, 2]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "fulfilled", "rejected", "rejected"]);
  });

  it("serial: one batch in flight, calls meanwhile form the next batch", async () => {
    const batches: number[][] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const b = new TickBatcher<number, number>(async (xs) => {
      batches.push(xs);
      if (batches.length === 1) await gate;
      return xs;
    }, 500, true);
    const first = b.add(1);
    await new Promise((r) => setImmediate(r));
    const later = [b.add(2), b.add(3)];
    await new Promise((r) => setTimeout(r, 10));
    b.add(4);
    expect(batches).toEqual([[1]]);
    release();
    await Promise.all([first, ...later]);
    expect(batches).toEqual([[1], [2, 3, 4]]);
  });

  it("isolate: a failed batch runs each member alone, so only the bad one fails, with its own error", async () => {
    const batches: number[][] = [];
    const b = new TickBatcher<number, number>(async (xs) => {
      batches.push(xs);
      const bad = xs.find((x) => x < 0);
      if (bad !== undefined) throw new Error(`bad ${bad}`);
      return xs.map((x) => x * 10);
    }, { isolate: true, serial: true });
    const results = await Promise.allSettled([b.add(1), b.add(-1), b.add(2), b.add(-2)]);
    expect(results).toEqual([
      { status: "fulfilled", value: 10 },
      { status: "rejected", reason: new Error("bad -1") },
      { status: "fulfilled", value: 20 },
      { status: "rejected", reason: new Error("bad -2") },
    ]);
    expect(batches).toEqual([[1, -1, 2, -2], [1], [-1], [2], [-2]]);
    // The batcher goes on batching afterwards.
    expect(await Promise.all([b.add(3), b.add(4)])).toEqual([30, 40]);
    expect(batches.at(-1)).toEqual([3, 4]);
  });

  it("isolate as a predicate: an error it refuses fails every member at once", async () => {
    let calls = 0;
    const b = new TickBatcher<number, number>(async () => {
      calls++;
      throw Object.assign(new Error("connection lost"), { outage: true });
    }, { isolate: (e) => !(e as { outage?: boolean }).outage });
    const results = await Promise.allSettled([b.add(1), b.add(2), b.add(3)]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected", "rejected"]);
    expect(calls).toBe(1);
  });
});
