import { describe, expect, it } from "vitest";
import { nextCheckMs, pollBackoff, pollNumber } from "./poll";

describe("poll backoff", () => {
  it("takes the configured bounds, else the adapter's defaults; max is never below min", () => {
    expect(pollBackoff({}, 1_000, 30_000)).toEqual({ min: 1_000, max: 30_000 });
    expect(pollBackoff({ pollMinMs: 10, pollMaxMs: 40 }, 1_000, 30_000)).toEqual({ min: 10, max: 40 });
    expect(pollBackoff({ pollMinMs: 50_000 }, 1_000, 30_000)).toEqual({ min: 50_000, max: 50_000 });
  });

  it("waits min first, then 1.5× longer each time, capped at max", () => {
    const b = { min: 1_000, max: 5_000 };
    expect([0, 1, 2, 3, 4, 5].map((n) => nextCheckMs(b, n))).toEqual([1_000, 1_500, 2_250, 3_375, 5_000, 5_000]);
  });

  it("counts re-checks from the task's state", () => {
    expect(pollNumber({ pending: true, taskId: "t", checkAfterMs: 1 })).toBe(1);
    expect(pollNumber({ pending: true, taskId: "t", checkAfterMs: 1, state: { polls: 3 } })).toBe(4);
    expect(pollNumber({ pending: true, taskId: "t", checkAfterMs: 1, state: { polls: "3" } })).toBe(1);
  });
});
