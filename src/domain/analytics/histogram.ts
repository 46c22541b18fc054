/**
 * Fixed, log-spaced histogram buckets for latency and queue wait (milliseconds), as kept
 * in the hourly rollups, and percentiles read back from them.
 *
 * Bucket k counts values v with `BOUNDS[k-1] <= v < BOUNDS[k]` (bucket 0 is `[0, 1)`,
 * the last bucket is `[1e8, ∞)`): Postgres `width_bucket(v, BOUNDS)` gives k directly.
 * Bounds run 1 – 1.5 – 2.5 – 4 – 6 per decade (≈ ×1.58 each step) from 1 ms to 1e8 ms
 * (≈ 28 h), so a percentile read from a histogram is off by at most one bucket's width
 * (≤ 60% of the value, typically far less).
 */
const STEPS = [1, 1.5, 2.5, 4, 6];

/** Upper bounds (exclusive) of buckets 0 … n−1 in ms; bucket n is the overflow. */
export const BUCKET_BOUNDS_MS: readonly number[] = Object.freeze([
  ...Array.from({ length: 8 }, (_, d) => STEPS.map((s) => s * 10 ** d)).flat(),
  1e8,
]);

/** Number of buckets (bounds + the overflow bucket). */
export const BUCKET_COUNT = BUCKET_BOUNDS_MS.length + 1;

/** The bounds as a Postgres float8[] literal, for `width_bucket`. */
export const BOUNDS_SQL = `'{${BUCKET_BOUNDS_MS.join(",")}}'::float8[]`;

/** Bucket index of a value in ms (what `width_bucket(v, BOUNDS)` returns). */
export function bucketOf(ms: number): number {
  let lo = 0;
  let hi = BUCKET_BOUNDS_MS.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ms >= BUCKET_BOUNDS_MS[mid]) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** [lower, upper) of bucket k; the overflow bucket is given one more ×1.5 step as its upper bound. */
export function bucketRange(k: number): [number, number] {
  const last = BUCKET_BOUNDS_MS[BUCKET_BOUNDS_MS.length - 1];
  const lower = k === 0 ? 0 : BUCKET_BOUNDS_MS[k - 1];
  const upper = k < BUCKET_BOUNDS_MS.length ? BUCKET_BOUNDS_MS[k] : last * 1.5;
  return [lower, upper];
}

export function emptyHistogram(): number[] {
  return new Array<number>(BUCKET_COUNT).fill(0);
}

/** A histogram of the given values (tests and tooling). */
export function histogramOf(values: number[]): number[] {
  const h = emptyHistogram();
  for (const v of values) h[bucketOf(v)]++;
  return h;
}

/** Adds `b` into `a` bucket by bucket (merging histograms of disjoint rows). */
export function mergeInto(a: number[], b: readonly number[]): number[] {
  for (let i = 0; i < b.length; i++) a[i] = (a[i] ?? 0) + b[i];
  return a;
}

/**
 * The p-quantile (0..1) of the values a histogram counts, with percentile_cont's rank
 * convention (rank p·(n−1), linear between neighbours). The j-th smallest value is
 * placed inside its bucket as if the bucket's c values were spread evenly
 * (lower + (i + 0.5)/c · width), so the result lies within the buckets that hold the
 * exact neighbours. null for an empty histogram.
 */
export function percentileOf(hist: readonly number[], p: number): number | null {
  const n = hist.reduce((s, c) => s + c, 0);
  if (n === 0) return null;
  const rank = p * (n - 1);
  const lo = Math.floor(rank);
  const frac = rank - lo;
  const a = valueAt(hist, lo);
  return frac === 0 ? a : a + frac * (valueAt(hist, Math.min(lo + 1, n - 1)) - a);
}

function valueAt(hist: readonly number[], j: number): number {
  let before = 0;
  for (let k = 0; k < hist.length; k++) {
    const c = hist[k];
    if (j < before + c) {
      const [lower, upper] = bucketRange(k);
      return lower + ((j - before + 0.5) / c) * (upper - lower);
    }
    before += c;
  }
  return bucketRange(hist.length - 1)[1];
}
