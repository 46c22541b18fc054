import { describe, expect, it } from "vitest";
import { planSources, resolveRange, seriesBuckets, seriesInterval, splitDays } from "./metrics-range";

const d = (s: string) => new Date(s);
const now = d("2024-11-20T10:17:00Z");

describe("resolveRange", () => {
  it("defaults to the last 24 h", () => {
    expect(resolveRange({}, now)).toEqual({ from: d("2024-11-19T10:17:00Z"), to: now });
    expect(resolveRange({ to: d("2024-11-10T00:00:00Z") }, now)).toEqual({ from: d("2024-11-09T00:00:00Z"), to: d("2024-11-10T00:00:00Z") });
    expect(resolveRange({ from: d("2024-11-20T00:00:00Z") }, now)).toEqual({ from: d("2024-11-20T00:00:00Z"), to: now });
  });

  it("refuses empty, inverted and over-long ranges with BAD_USER_INPUT", () => {
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return (e as { extensions: { code: string } }).extensions.code;
      }
      return "none";
    };
    expect(code(() => resolveRange({ from: now, to: now }, now))).toBe("BAD_USER_INPUT");
    expect(code(() => resolveRange({ from: now, to: d("2024-11-01T00:00:00Z") }, now))).toBe("BAD_USER_INPUT");
    expect(code(() => resolveRange({ from: d("2023-10-15T00:00:00Z"), to: now }, now))).toBe("BAD_USER_INPUT");
    expect(code(() => resolveRange({ from: new Date(now.getTime() - 400 * 86_400_000), to: now }, now))).toBe("none");
    expect(code(() => resolveRange({ from: new Date(now.getTime() - 400 * 86_400_000 - 1), to: now }, now))).toBe("BAD_USER_INPUT");
  });
});

describe("series", () => {
  it("is hourly up to 7 days, daily beyond, with every bucket that overlaps the range", () => {
    expect(seriesInterval(d("2024-11-13T10:17:00Z"), now)).toBe("HOUR");
    expect(seriesInterval(d("2024-11-13T10:16:00Z"), now)).toBe("DAY");
    expect(seriesBuckets(d("2024-11-20T07:30:00Z"), now, "HOUR").map((x) => x.toISOString())).toEqual([
      "2024-11-20T07:00:00.000Z", "2024-11-20T08:00:00.000Z", "2024-11-20T09:00:00.000Z", "2024-11-20T10:00:00.000Z",
    ]);
    expect(seriesBuckets(d("2024-11-18T12:00:00Z"), now, "DAY")).toHaveLength(3);
  });
});

describe("planSources", () => {
  it("reads raw rows for short ranges", () => {
    expect(planSources(d("2024-11-18T10:17:00Z"), now, 48, d("2024-11-20T09:00:00Z"))).toEqual({ source: "RAW", raw: [d("2024-11-18T10:17:00Z"), now] });
  });

  it("reads whole rolled-up hours from rollups and raw rows for the partial first hour and the tail", () => {
    const from = d("2024-11-10T10:17:00Z");
    expect(planSources(from, now, 48, d("2024-11-20T09:00:00Z"))).toEqual({
      source: "ROLLUP",
      rollup: [d("2024-11-10T11:00:00Z"), d("2024-11-20T09:00:00Z")],
      rawEdges: [[from, d("2024-11-10T11:00:00Z")], [d("2024-11-20T09:00:00Z"), now]],
    });
  });

  it("needs no raw edges for an hour-aligned range that is fully rolled up", () => {
    expect(planSources(d("2024-11-10T00:00:00Z"), d("2024-11-15T00:00:00Z"), 48, d("2024-11-20T09:00:00Z"))).toEqual({
      source: "ROLLUP", rollup: [d("2024-11-10T00:00:00Z"), d("2024-11-15T00:00:00Z")], rawEdges: [],
    });
  });

  it("falls back to raw rows when nothing in the range is rolled up", () => {
    expect(planSources(d("2024-11-10T10:17:00Z"), now, 48, null).source).toBe("RAW");
    expect(planSources(d("2024-11-10T10:17:00Z"), now, 48, d("2024-11-10T11:00:00Z")).source).toBe("RAW");
  });
});

describe("splitDays", () => {
  it("reads whole UTC days from daily rollups and the hours around them from hourly ones", () => {
    expect(splitDays([d("2024-11-10T11:00:00Z"), d("2024-11-20T09:00:00Z")])).toEqual({
      days: [d("2024-11-11T00:00:00Z"), d("2024-11-20T00:00:00Z")],
      hours: [[d("2024-11-10T11:00:00Z"), d("2024-11-11T00:00:00Z")], [d("2024-11-20T00:00:00Z"), d("2024-11-20T09:00:00Z")]],
    });
    expect(splitDays([d("2024-11-10T00:00:00Z"), d("2024-11-12T00:00:00Z")])).toEqual({ days: [d("2024-11-10T00:00:00Z"), d("2024-11-12T00:00:00Z")], hours: [] });
    expect(splitDays([d("2024-11-10T11:00:00Z"), d("2024-11-11T09:00:00Z")])).toEqual({ days: null, hours: [[d("2024-11-10T11:00:00Z"), d("2024-11-11T09:00:00Z")]] });
  });
});
