/**
 * The time range of a metrics query: defaults, validation, the chart interval, and which
 * rows answer it (raw generations, hourly rollups, or rollups plus raw edges). Pure.
 */
import { BadUserInputError } from "../../common/errors";

export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;
/** Without `from`, a query covers this long before `to`. */
export const DEFAULT_RANGE_MS = DAY_MS;
/** The longest range a query may cover. */
export const MAX_RANGE_DAYS = 400;
/** Ranges up to this long are charted by hour (≤ 168 points); longer ones by day. */
export const HOURLY_SERIES_MAX_MS = 7 * DAY_MS;

export type Interval = "HOUR" | "DAY";

export const floorHour = (d: Date): Date => new Date(Math.floor(d.getTime() / HOUR_MS) * HOUR_MS);
export const ceilHour = (d: Date): Date => new Date(Math.ceil(d.getTime() / HOUR_MS) * HOUR_MS);
export const floorDay = (d: Date): Date => new Date(Math.floor(d.getTime() / DAY_MS) * DAY_MS);
export const ceilDay = (d: Date): Date => new Date(Math.ceil(d.getTime() / DAY_MS) * DAY_MS);
export const floorTo = (d: Date, interval: Interval): Date => {
  const step = interval === "HOUR" ? HOUR_MS : DAY_MS;
  return new Date(Math.floor(d.getTime() / step) * step);
};

/** `[from, to)` with the defaults (to = now, from = to − 24 h); BAD_USER_INPUT for an empty, inverted or too long range. */
export function resolveRange(args: { from?: Date | null; to?: Date | null }, now: Date): { from: Date; to: Date } {
  const to = args.to ?? now;
  const from = args.from ?? new Date(to.getTime() - DEFAULT_RANGE_MS);
  if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime())) throw new BadUserInputError("from and to must be valid dates", { field: "from" });
  if (from.getTime() >= to.getTime()) throw new BadUserInputError("from must be before to", { field: "from" });
  if (to.getTime() - from.getTime() > MAX_RANGE_DAYS * DAY_MS)
    throw new BadUserInputError(`the range may cover at most ${MAX_RANGE_DAYS} days`, { field: "from", maxDays: MAX_RANGE_DAYS });
  return { from, to };
}

export function seriesInterval(from: Date, to: Date): Interval {
  return to.getTime() - from.getTime() <= HOURLY_SERIES_MAX_MS ? "HOUR" : "DAY";
}

/** Start of every chart bucket that overlaps `[from, to)`. */
export function seriesBuckets(from: Date, to: Date, interval: Interval): Date[] {
  const step = interval === "HOUR" ? HOUR_MS : DAY_MS;
  const out: Date[] = [];
  for (let t = floorTo(from, interval).getTime(); t < to.getTime(); t += step) out.push(new Date(t));
  return out;
}

export type Span = readonly [Date, Date];

export type SourcePlan =
  | { source: "RAW"; raw: Span }
  | { source: "ROLLUP"; rollup: Span; rawEdges: Span[] };

/**
 * Short ranges (≤ rawMaxHours) read raw rows: exact percentiles. Longer ones read whole
 * hours from the rollups — from the first full hour up to the earlier of the last full
 * hour and the rollup watermark — and raw rows for the partial first hour and for
 * everything after that (the not-yet-rolled-up tail). With no rolled-up hour inside
 * the range, raw rows answer it all.
 */
export function planSources(from: Date, to: Date, rawMaxHours: number, rolledUpTo: Date | null): SourcePlan {
  if (to.getTime() - from.getTime() <= rawMaxHours * HOUR_MS) return { source: "RAW", raw: [from, to] };
  const a = ceilHour(from);
  if (!rolledUpTo) return { source: "RAW", raw: [from, to] };
  const b = new Date(Math.min(floorHour(to).getTime(), rolledUpTo.getTime()));
  if (b.getTime() <= a.getTime()) return { source: "RAW", raw: [from, to] };
  const rawEdges: Span[] = [];
  if (from.getTime() < a.getTime()) rawEdges.push([from, a]);
  if (b.getTime() < to.getTime()) rawEdges.push([b, to]);
  return { source: "ROLLUP", rollup: [a, b], rawEdges };
}

/** Splits a rolled-up span into whole UTC days (read from daily rollups) and the hours around them. */
export function splitDays([a, b]: Span): { days: Span | null; hours: Span[] } {
  const d1 = ceilDay(a);
  const d2 = floorDay(b);
  if (d1.getTime() >= d2.getTime()) return { days: null, hours: [[a, b]] };
  const hours: Span[] = [];
  if (a.getTime() < d1.getTime()) hours.push([a, d1]);
  if (d2.getTime() < b.getTime()) hours.push([d2, b]);
  return { days: [d1, d2], hours };
}
