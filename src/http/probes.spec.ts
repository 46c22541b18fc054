import { describe, expect, it } from "vitest";
import { readinessProbe } from "./probes";

describe("readinessProbe", () => {
  it("is ready when Postgres and Redis answer and no migration is pending", async () => {
    const ready = readinessProbe({ postgres: async () => undefined, redis: async () => "PONG", pendingMigrations: async () => [] });
    expect(await ready()).toEqual({ postgres: true, redis: true, migrations: true });
  });

  it("names each reason: the store's error, pending migrations, and unknown migrations while Postgres is down", async () => {
    let asked = false;
    const down = readinessProbe({
      postgres: () => Promise.reject(new Error("connect ECONNREFUSED")),
      redis: () => Promise.reject(new Error("Connection is closed.")),
      pendingMigrations: async () => ((asked = true), []),
    });
    expect(await down()).toEqual({ postgres: "connect ECONNREFUSED", redis: "Connection is closed.", migrations: "unknown" });
    expect(asked).toBe(false);
    const behind = readinessProbe({ postgres: async () => undefined, redis: async () => "PONG", pendingMigrations: async () => ["A1", "B2"] });
    expect((await behind()).migrations).toBe("2 pending");
  });
});
