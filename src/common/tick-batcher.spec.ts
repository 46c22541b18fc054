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
});
