import { describe, expect, it } from "vitest";
import { CleanupStack } from "./cleanup";

describe("CleanupStack", () => {
  it("closes the last opened first, waiting for each", async () => {
    const order: string[] = [];
    const s = new CleanupStack();
    s.defer(() => order.push("db"));
    s.defer(async () => {
      await new Promise((r) => setTimeout(r, 5));
      order.push("redis");
    });
    s.defer(() => order.push("queue"));
    await s.close();
    expect(order).toEqual(["queue", "redis", "db"]);
  });

  it("runs every disposer when one fails, and closes once however often it is asked", async () => {
    const ran: string[] = [];
    const s = new CleanupStack();
    s.defer(() => ran.push("first"));
    s.defer(() => {
      throw new Error("boom");
    });
    s.defer(() => Promise.reject(new Error("async boom")));
    await Promise.all([s.close(), s.close()]);
    await s.close();
    expect(ran).toEqual(["first"]);
    expect(() => s.defer(() => undefined)).toThrow(/already closed/);
  });
});
