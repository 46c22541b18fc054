import { describe, expect, it } from "vitest";
import { isRetryableTransactionError, retryTransaction, sqlState } from "./retry-transaction";

const pgError = (code: string) => Object.assign(new Error(code === "40P01" ? "deadlock detected" : "boom"), { code });

describe("retryTransaction", () => {
  it("re-runs a deadlock victim or a serialization failure until it succeeds", async () => {
    const codes = ["40P01", "40001"];
    let calls = 0;
    const retried: number[] = [];
    const v = await retryTransaction(
      async () => {
        if (calls < codes.length) throw pgError(codes[calls++]);
        calls++;
        return "done";
      },
      { baseDelayMs: 1, onRetry: (_e, n) => retried.push(n) },
    );
    expect(v).toBe("done");
    expect(calls).toBe(3);
    expect(retried).toEqual([1, 2]);
  });

  it("gives up after `attempts` tries with the last error", async () => {
    let calls = 0;
    await expect(retryTransaction(async () => { calls++; throw pgError("40P01"); }, { attempts: 3, baseDelayMs: 1 })).rejects.toThrow("deadlock detected");
    expect(calls).toBe(3);
  });

  it("never re-runs any other error", async () => {
    let calls = 0;
    await expect(retryTransaction(async () => { calls++; throw pgError("22P02"); })).rejects.toThrow("boom");
    await expect(retryTransaction(async () => { calls++; throw new Error("plain"); })).rejects.toThrow("plain");
    expect(calls).toBe(2);
  });

  it("reads the SQLSTATE from pg errors and TypeORM's QueryFailedError alike", () => {
    expect(sqlState(pgError("40P01"))).toBe("40P01");
    expect(sqlState(Object.assign(new Error("x"), { code: "ECONNREFUSED" }))).toBeUndefined();
    expect(isRetryableTransactionError({ driverError: { code: "40001" } })).toBe(true);
    expect(isRetryableTransactionError(null)).toBe(false);
    expect(isRetryableTransactionError({ code: 40001 })).toBe(false);
  });
});
