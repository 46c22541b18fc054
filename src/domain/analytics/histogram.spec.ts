import { describe, expect, it } from "vitest";
import { BUCKET_BOUNDS_MS, BUCKET_COUNT, bucketOf, bucketRange, histogramOf, mergeInto, percentileOf } from "./histogram";

/** percentile_cont over sorted values: rank p·(n−1), linear between neighbours. */
function percentileCont(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  const r = p * (s.length - 1);
  const lo = Math.floor(r);
  return s[lo] + (r - lo) * ((s[Math.min(lo + 1, s.length - 1)] ?? s[lo]) - s[lo]);
}

/** The interval an estimate may fall in: from the bucket of the lower neighbour to the bucket of the upper one. */
function resolution(values: number[], p: number): [number, number] {
  const s = [...values].sort((a, b) => a - b);
  const r = p * (s.length - 1);
  return [bucketRange(bucketOf(s[Math.floor(r)]))[0], bucketRange(bucketOf(s[Math.ceil(r)]))[1]];
}

describe("histogram buckets", () => {
  it("are log-spaced 1–1.5–2.5–4–6 per decade from 1 ms to 1e8 ms, plus underflow and overflow", () => {
    expect(BUCKET_BOUNDS_MS.slice(0, 7)).toEqual([1, 1.5, 2.5, 4, 6, 10, 15]);
    expect(BUCKET_BOUNDS_MS.at(-1)).toBe(1e8);
    expect(BUCKET_COUNT).toBe(42);
    for (let i = 1; i < BUCKET_BOUNDS_MS.length; i++) expect(BUCKET_BOUNDS_MS[i] / BUCKET_BOUNDS_MS[i - 1]).toBeLessThanOrEqual(1.67);
  });

  it("place a value like Postgres width_bucket: lower bound inclusive, upper exclusive", () => {
    expect(bucketOf(0)).toBe(0);
    expect(bucketOf(0.999)).toBe(0);
    expect(bucketOf(1)).toBe(1);
    expect(bucketOf(400)).toBe(bucketOf(599.9));
    expect(bucketRange(bucketOf(400))).toEqual([400, 600]);
    expect(bucketOf(1e8)).toBe(41);
    expect(bucketOf(1e12)).toBe(41);
    expect(bucketRange(41)).toEqual([1e8, 1.5e8]);
  });

  it("merge bucket by bucket", () => {
    expect(mergeInto(histogramOf([1, 100]), histogramOf([100, 5000]))).toEqual(histogramOf([1, 100, 100, 5000]));
  });
});

describe("percentileOf", () => {
  it("is null for an empty histogram", () => {
    expect(percentileOf(histogramOf([]), 0.5)).toBeNull();
  });

  it("places values evenly inside their bucket and interpolates between ranks like percentile_cont", () => {
    const h = histogramOf([100, 200, 300, 400, 500, 700, 900, 1000]);
    // rank 3.5: the 4th and 5th values share [400, 600) (2 values: at 450 and 550) → 500
    expect(percentileOf(h, 0.5)).toBe(500);
    // a single value in [100, 150) sits at the bucket's middle
    expect(percentileOf(histogramOf([120]), 0.99)).toBe(125);
  });

  it("stays within the bucket resolution of the exact percentile", () => {
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (const n of [1, 2, 3, 10, 101, 5000]) {
      const values = Array.from({ length: n }, () => Math.exp(rnd() * 12));
      const h = histogramOf(values);
      for (const p of [0.5, 0.95, 0.99]) {
        const est = percentileOf(h, p)!;
        const [lo, hi] = resolution(values, p);
        const exact = percentileCont(values, p);
        expect(exact).toBeGreaterThanOrEqual(lo);
        expect(est).toBeGreaterThanOrEqual(lo);
        expect(est).toBeLessThanOrEqual(hi);
      }
    }
  });
});
