import { describe, expect, it } from "vitest";
import { movedMaterially } from "./queue-control-positions";

describe("movedMaterially: when a QUEUED position event is worth sending", () => {
  const now = 1_000_000;
  it("always for a first announcement", () => {
    expect(movedMaterially(undefined, 500, null, now)).toBe(true);
  });
  it("within the first ten places, any move", () => {
    expect(movedMaterially({ position: 10, etaMs: null }, 9, null, now)).toBe(true);
    expect(movedMaterially({ position: 2, etaMs: null }, 1, null, now)).toBe(true);
    expect(movedMaterially({ position: 3, etaMs: null }, 3, null, now)).toBe(false);
  });
  it("further back, 10% of the position or 10 places, whichever is fewer", () => {
    expect(movedMaterially({ position: 50, etaMs: null }, 46, null, now)).toBe(false);
    expect(movedMaterially({ position: 50, etaMs: null }, 45, null, now)).toBe(true);
    expect(movedMaterially({ position: 5000, etaMs: null }, 4991, null, now)).toBe(false);
    expect(movedMaterially({ position: 5000, etaMs: null }, 4990, null, now)).toBe(true);
  });
  it("an estimate that appears or goes away (a resume, a pause)", () => {
    expect(movedMaterially({ position: 40, etaMs: null }, 40, now + 60_000, now)).toBe(true);
    expect(movedMaterially({ position: 40, etaMs: now + 60_000 }, 40, null, now)).toBe(true);
  });
  it("an estimate that moved by more than 10 s and 20% of the remaining wait", () => {
    expect(movedMaterially({ position: 40, etaMs: now + 100_000 }, 40, now + 115_000, now)).toBe(false); // 15 s of 100 s
    expect(movedMaterially({ position: 40, etaMs: now + 100_000 }, 40, now + 125_000, now)).toBe(true);
    expect(movedMaterially({ position: 40, etaMs: now + 20_000 }, 40, now + 29_000, now)).toBe(false); // under 10 s
  });
});
