import { describe, expect, it } from "vitest";
import { periodOf } from "./clock";

describe("periodOf", () => {
  it("months start on the 1st, UTC", () => {
    expect(periodOf(new Date("2026-11-23T14:00:00Z"), "month")).toEqual({ start: new Date("2026-11-01T00:00:00Z"), end: new Date("2026-12-01T00:00:00Z") });
    expect(periodOf(new Date("2026-12-31T23:59:59Z"), "month").end).toEqual(new Date("2027-01-01T00:00:00Z"));
  });
  it("weeks start on Monday, days at midnight", () => {
    expect(periodOf(new Date("2026-11-23T14:00:00Z"), "week").start).toEqual(new Date("2026-11-23T00:00:00Z")); // a Monday
    expect(periodOf(new Date("2026-11-29T23:00:00Z"), "week").start).toEqual(new Date("2026-11-23T00:00:00Z"));
    expect(periodOf(new Date("2026-11-23T14:00:00Z"), "day")).toEqual({ start: new Date("2026-11-23T00:00:00Z"), end: new Date("2026-11-24T00:00:00Z") });
  });
});
