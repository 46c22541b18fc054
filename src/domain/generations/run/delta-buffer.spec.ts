import { describe, expect, it } from "vitest";
import { DeltaBuffer } from "./delta-buffer";

describe("DeltaBuffer", () => {
  it("merges deltas pushed in the same tick (window 0)", async () => {
    const out: string[] = [];
    const b = new DeltaBuffer(0, async (d) => void out.push(d));
    b.push("a");
    b.push("b");
    await new Promise((r) => setImmediate(r));
    await b.flush();
    b.push("c");
    await b.flush();
    expect(out).toEqual(["ab", "c"]);
  });

  it("keeps order with other events through then()", async () => {
    const out: string[] = [];
    const b = new DeltaBuffer(1000, async (d) => {
      await new Promise((r) => setTimeout(r, 5));
      out.push(`delta:${d}`);
    });
    b.push("x");
    await b.then(async () => void out.push("progress"));
    expect(out).toEqual(["delta:x", "progress"]);
  });

  it("discard drops pending text", async () => {
    const out: string[] = [];
    const b = new DeltaBuffer(1000, async (d) => void out.push(d));
    b.push("lost");
    await b.discard();
    expect(out).toEqual([]);
  });
});
