import { spawn } from "node:child_process";
import path from "node:path";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../helpers/test-app";
import { CANCEL, GET, CREATE, create, estimate, ledger, micros, periods, quota, setQuota, settled, text, until } from "../helpers/quota";

const ROOT = path.resolve(__dirname, "../..");

/** `switchboard quotas verify` as a separate process against `t`'s database. */
function verifyCli(t: TestApp): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const env = { PATH: process.env.PATH, NODE_ENV: "test", LOG_LEVEL: "warn", DATABASE_URL: t.db.url, REDIS_URL: t.config.redis.url, REDIS_PREFIX: t.config.redis.prefix };
    const child = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", "src/main.ts", "quotas", "verify"], { cwd: ROOT, env });
    let out = "";
    child.stdout.on("data", (b) => (out += b));
    child.stderr.on("data", (b) => (out += b));
    child.on("exit", (code) => resolve({ code, out }));
  });
}

/** Reads the user's spent + reserved and limit in a loop on its own connection until stopped. */
async function sample(t: TestApp, userId: string) {
  const client = new Client({ connectionString: t.db.url });
  client.on("error", () => undefined);
  await client.connect();
  const samples: [number, number][] = [];
  let sampling = true;
  const loop = (async () => {
    while (sampling) {
      const { rows } = await client.query(`SELECT spent_micros::bigint + reserved_micros AS used, limit_micros FROM quota_periods WHERE user_id = $1`, [userId]);
      if (rows[0]) samples.push([Number(rows[0].used), Number(rows[0].limit_micros)]);
    }
  })().catch(() => undefined);
  return {
    async stop() {
      sampling = false;
      await loop;
      await client.end().catch(() => undefined);
      return samples;
    },
  };
}

describe("budgets: reserve at admission, settle on completion", () => {
  const apps: TestApp[] = [];
  let t: TestApp; // API + workers
  let race: TestApp; // API only: the 200 requests are admitted with nothing settling meanwhile
  beforeAll(async () => {
    [t, race] = await Promise.all([startTestApp(), startTestApp({}, { workers: false })]);
    apps.push(t, race);
  });
  afterAll(async () => {
    for (const a of apps) await a.close(); // newest first: the worker app sharing race's database goes before it
  });

  it("200 concurrent requests against a budget for exactly 20: 20 accepted, 180 QUOTA_EXCEEDED, never overspent; the ledger matches", { timeout: 90_000 }, async () => {
    const u = await race.createUser(undefined, { tier: "enterprise" }); // rate limits lifted (issue: "a user whose rate limits are lifted")
    const input = (i: number) => text(`race ${String(i).padStart(3, "0")} ${"lorem ipsum ".repeat(10)}`, { text: { maxTokens: 20 } });
    const est = await estimate(race, u.key, input(0));
    const limit = 20 * est;
    await setQuota(race, u.id, limit);
    // The database itself refuses any state where spent + reserved exceeds the limit.
    await race.app.ds.query(`ALTER TABLE quota_periods ADD CONSTRAINT test_never_overspent CHECK (spent_micros + reserved_micros <= limit_micros)`);

    const sampler = await sample(race, u.id);
    try {
      const results = await Promise.all(Array.from({ length: 200 }, (_, i) => race.gql(u.key, CREATE, { input: input(i) })));
      const accepted = results.filter((r) => r.data?.createGeneration);
      const refused = results.filter((r) => r.errors?.[0]?.extensions?.code === "QUOTA_EXCEEDED");
      expect(accepted).toHaveLength(20);
      expect(refused).toHaveLength(180);
      const { periodEnd } = await quota(race, u.key);
      for (const r of refused) {
        const x = r.errors![0].extensions!;
        expect(Object.keys(x).sort()).toEqual(["code", "limitUsd", "requestedUsd", "reservedUsd", "resetsAt", "spentUsd"]);
        expect([micros(x.limitUsd), micros(x.requestedUsd), micros(x.spentUsd) + micros(x.reservedUsd)]).toEqual([limit, est, limit]);
        expect(x.resetsAt).toBe(periodEnd);
      }
      // Nothing written or enqueued for the 180: 20 rows, 20 reserve entries, 20 jobs.
      const [{ n }] = await race.app.ds.query(`SELECT count(*)::int AS n FROM generations WHERE user_id = $1`, [u.id]);
      expect(n).toBe(20);
      const kinds = await race.app.ds.query(`SELECT kind, count(*)::int AS n, sum(amount_micros)::bigint AS s FROM spend_ledger GROUP BY kind`);
      expect(kinds.map((k: Record<string, unknown>) => [k.kind, k.n, Number(k.s)])).toEqual([["reserve", 20, limit]]);
      expect(await race.app.queue.depth()).toEqual({ waiting: 20, active: 0, delayed: 0 });
      expect(await periods(race, u.id)).toMatchObject([{ limit, spent: 0, reserved: limit, requests: 20 }]);

      // Workers join (same database and queues) and run the 20 while the sampler keeps watching.
      apps.unshift(await startTestApp({}, { db: race.db, prefix: race.config.redis.prefix }));
      const done = await until(
        () => race.app.ds.query(`SELECT status, cost_micros, error_code, error_message FROM generations WHERE user_id = $1 AND status IN ('SUCCEEDED','FAILED','CANCELLED')`, [u.id]),
        (rows) => rows.length === 20,
        30_000,
      );
      const samples = await sampler.stop();
      expect(done.filter((g: { status: string }) => g.status !== "SUCCEEDED")).toEqual([]);
      expect(samples.length).toBeGreaterThan(0);
      expect(Math.max(...samples.map(([used]) => used))).toBe(limit); // the sampler saw the full budget in use...
      expect(samples.filter(([used, lim]) => used > lim)).toEqual([]); // ...and never more
      const spent = done.reduce((s: number, g: { cost_micros: string }) => s + Number(g.cost_micros), 0);
      expect(spent).toBeGreaterThan(0);
      expect(await periods(race, u.id)).toMatchObject([{ limit, spent, reserved: 0, requests: 20 }]);
      expect(await race.app.services.quotas.verify()).toEqual({ periods: 1, mismatches: [] });
      const cli = await verifyCli(race);
      expect(cli.code, cli.out).toBe(0);
      expect(cli.out).toMatch(/1 budget period\(s\) checked against the spend ledger: all balances match/);

      // The check can fail: a balance that disagrees with the ledger is reported, and the CLI exits non-zero.
      await race.app.ds.query(`UPDATE quota_periods SET spent_micros = spent_micros - 1 WHERE user_id = $1`, [u.id]);
      expect((await race.app.services.quotas.verify()).mismatches).toHaveLength(1);
      const bad = await verifyCli(race);
      expect(bad.code).not.toBe(0);
      expect(bad.out).toMatch(/MISMATCH/);
      await race.app.ds.query(`UPDATE quota_periods SET spent_micros = spent_micros + 1 WHERE user_id = $1`, [u.id]);
    } finally {
      await sampler.stop();
    }
  });

  it("a SUCCEEDED generation is charged its actual cost and the rest of its reservation is released", async () => {
    const u = await t.createUser();
    const input = text("settle the difference", { wait: 30 });
    const est = await estimate(t, u.key, input);
    const g = await create(t, u.key, input);
    expect(g.status).toBe("SUCCEEDED");
    const cost = micros(g.costUsd!);
    expect(micros(g.estimatedCostUsd)).toBe(est);
    expect(cost).toBeGreaterThan(0);
    expect(cost).toBeLessThan(est);
    expect(g.attempts.map((a) => [a.attemptNo, a.status, micros(a.costUsd)])).toEqual([[1, "SUCCEEDED", cost]]);
    expect(await ledger(t, g.id)).toEqual([["release", 0, est], ["reserve", 0, est], ["charge", 1, cost]]);
    const q = await quota(t, u.key);
    const limit = micros(q.limitUsd);
    expect(limit).toBe(5_000_000); // the free tier's default
    expect([micros(q.spentUsd), micros(q.reservedUsd), micros(q.remainingUsd), q.requests]).toEqual([cost, 0, limit - cost, 1]);
    expect(await periods(t, u.id)).toMatchObject([{ limit, spent: cost, reserved: 0, requests: 1 }]);
  });

  it("a cache hit costs 0: no reservation, no charge", async () => {
    const u = await t.createUser();
    const input = text("cached answer, please", { cache: "USE", wait: 30 });
    const first = await create(t, u.key, input);
    const hit = await t.gql(u.key, `mutation($input: CreateGenerationInput!) { createGeneration(input: $input) { id status cached costUsd } }`, { input });
    expect(hit.data!.createGeneration).toMatchObject({ status: "SUCCEEDED", cached: true, costUsd: 0 });
    expect(await ledger(t, hit.data!.createGeneration.id)).toEqual([]);
    expect(await periods(t, u.id)).toMatchObject([{ spent: micros(first.costUsd!), reserved: 0, requests: 1 }]);
  });

  it("a FAILED generation costs 0; each retry extends the reservation by its worst case, all released at the end", async () => {
    const u = await t.createUser();
    const input = text("always 503", { params: { simulate: { failWith: "unavailable", failRate: 1 } }, wait: 30 });
    const est = await estimate(t, u.key, input);
    const g = await create(t, u.key, input);
    expect([g.status, g.error?.code, g.costUsd]).toEqual(["FAILED", "PROVIDER_UNAVAILABLE", 0]);
    expect(g.attempts.map((a) => [a.attemptNo, a.status, a.costUsd])).toEqual([[1, "FAILED", 0], [2, "FAILED", 0], [3, "FAILED", 0]]);
    expect(await ledger(t, g.id)).toEqual([["release", 0, 3 * est], ["reserve", 0, est], ["extend", 2, est], ["extend", 3, est]]);
    expect(await periods(t, u.id)).toMatchObject([{ spent: 0, reserved: 0, requests: 1 }]);
    expect(await t.app.services.quotas.verify()).toMatchObject({ mismatches: [] });
  });

  it("a retry whose worst case no longer fits is not made: FAILED with QUOTA_EXCEEDED, nothing charged", async () => {
    const u = await t.createUser();
    const input = text("503 on a tight budget", { params: { simulate: { failWith: "unavailable", failRate: 1 } }, wait: 30 });
    const est = await estimate(t, u.key, input);
    await setQuota(t, u.id, est); // room for exactly one attempt
    const g = await create(t, u.key, input);
    expect([g.status, g.error?.code, g.costUsd]).toEqual(["FAILED", "QUOTA_EXCEEDED", 0]);
    expect(g.attempts.map((a) => [a.attemptNo, a.status])).toEqual([[1, "FAILED"], [2, "CANCELLED"]]);
    expect(await ledger(t, g.id)).toEqual([["release", 0, est], ["reserve", 0, est]]);
    expect(await periods(t, u.id)).toMatchObject([{ limit: est, spent: 0, reserved: 0, requests: 1 }]);
  });

  it("a user over budget is refused exactly; after the one-statement admission refused them once, their next requests take the long way at once", async () => {
    const u = await race.createUser(undefined, { tier: "enterprise" });
    const input = (i: number) => text(`over ${i} ${Math.random()}`, { text: { maxTokens: 20 } });
    const est = await estimate(race, u.key, input(0));
    await setQuota(race, u.id, est); // room for one
    const logger = race.app.ds.logger;
    const logQuery = logger.logQuery.bind(logger);
    const statements: string[] = [];
    logger.logQuery = (query, params, runner) => (statements.push(query), logQuery(query, params, runner));
    try {
      await create(race, u.key, input(1));
      const oneStatement = () => statements.filter((q) => q.includes("INSERT INTO quota_periods AS qp")).length;
      expect(oneStatement()).toBe(1); // admitted in one statement
      for (let i = 2; i < 5; i++) expect((await race.gql(u.key, CREATE, { input: input(i) })).errors?.[0]?.extensions?.code).toBe("QUOTA_EXCEEDED");
      expect(oneStatement()).toBe(2); // tried once for the second (refused: the long way answered), not for the third and fourth
      expect(statements.filter((q) => q === "START TRANSACTION")).toHaveLength(3);
      // The admitted one's cost: still reserved, or spent if it has finished meanwhile; never more.
      const [p] = await periods(race, u.id);
      expect([p.limit, p.spent + p.reserved, p.requests]).toEqual([est, est, 1]);
    } finally {
      logger.logQuery = logQuery;
    }
  });

  it("a cancelled generation costs 0 and its whole reservation is released", async () => {
    const u = await t.createUser();
    const input = text("cancel me while running", { params: { simulate: { latencyMs: 20_000 } } });
    const est = await estimate(t, u.key, input);
    const g = await create(t, u.key, input);
    await until(() => t.app.ds.query(`SELECT status FROM generation_attempts WHERE generation_id = $1`, [g.id]), (r) => r[0]?.status === "RUNNING");
    expect((await periods(t, u.id))[0]).toMatchObject({ spent: 0, reserved: est });
    const c = await t.gql(u.key, CANCEL, { id: g.id });
    expect(c.errors).toBeUndefined();
    expect(c.data!.cancelGeneration.status).toBe("CANCELLED");
    expect(await settled(t, g.id)).toMatchObject({ status: "CANCELLED" }); // the aborted attempt is settled too
    const res = await t.gql(u.key, GET, { id: g.id });
    // Charged what its attempt cost: 0.
    expect(res.data!.generation).toMatchObject({ status: "CANCELLED", costUsd: 0, attempts: [{ attemptNo: 1, status: "CANCELLED", costUsd: 0 }] });
    expect(await ledger(t, g.id)).toEqual([["release", 0, est], ["reserve", 0, est]]);
    const q = await quota(t, u.key);
    expect([q.spentUsd, q.reservedUsd, micros(q.remainingUsd), q.requests]).toEqual([0, 0, micros(q.limitUsd), 1]);
  });
});
