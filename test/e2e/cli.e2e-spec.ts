import { spawn } from "node:child_process";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { Client } from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { PG_ADMIN_URL, dropRedisPrefix, uniquePrefix } from "../helpers/infra";
import { freePort } from "../helpers/test-app";

const ROOT = path.resolve(__dirname, "../..");
const dbName = `sb_test_cli_${randomBytes(5).toString("hex")}`;
const prefix = uniquePrefix();
const baseEnv = { PATH: process.env.PATH, DATABASE_URL: `postgres://postgres@127.0.0.1:5432/${dbName}`, REDIS_PREFIX: prefix, LOG_LEVEL: "warn", NODE_ENV: "development" };

function cli(args: string[], env: Record<string, string | undefined> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", "src/main.ts", ...args], { cwd: ROOT, env: { ...baseEnv, ...env } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (b) => (stdout += b));
    child.stderr.on("data", (b) => (stderr += b));
    child.on("exit", (code) => resolve({ code, stdout, stderr }));
  });
}
const lastLine = (s: string) => s.trim().split("\n").at(-1)!;

describe("the switchboard CLI", { timeout: 90_000 }, () => {
  afterAll(async () => {
    const c = new Client({ connectionString: PG_ADMIN_URL });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await c.end();
    await dropRedisPrefix(prefix);
  });

  it("serve --setup creates the database, migrates, prints the first admin's key, and exits 0 on SIGTERM", async () => {
    const port = await freePort();
    const child = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", "src/main.ts", "serve", "--setup"], { cwd: ROOT, env: { ...baseEnv, PORT: String(port), HOST: "127.0.0.1" } });
    let out = "";
    child.stdout.on("data", (b) => (out += b));
    child.stderr.on("data", (b) => (out += b));
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    const deadline = Date.now() + 30_000;
    while (!/sb_[A-Za-z0-9]{8}_[A-Za-z0-9]+/.test(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const key = /sb_[A-Za-z0-9]{8}_[A-Za-z0-9]+/.exec(out)?.[0];
    expect(key, out).toBeTruthy();
    expect(out).toContain(`http://localhost:${port}/graphql`);
    expect(out).toContain("curl -s");
    const me = await fetch(`http://127.0.0.1:${port}/graphql`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${key}` }, body: JSON.stringify({ query: "{ me { role email } }" }) });
    expect(((await me.json()) as any).data.me).toEqual({ role: "ADMIN", email: "admin@localhost" });
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
  });

  it("users create prints the key alone on the last line; keys list, rotate and revoke work", async () => {
    const created = await cli(["users", "create", "--email", "cli@example.com", "--tier", "pro"]);
    expect(created.code, created.stderr).toBe(0);
    const key = lastLine(created.stdout);
    expect(key).toMatch(/^sb_[A-Za-z0-9]{8}_[A-Za-z0-9]{32}$/);
    const list = await cli(["keys", "list", "--email", "cli@example.com"]);
    expect(list.code).toBe(0);
    const id = list.stdout.trim().split(/\s+/)[0];
    expect(list.stdout).toContain(`sb_${key.slice(3, 11)}_…`);
    expect(list.stdout).not.toContain(key);
    const rotated = await cli(["keys", "rotate", "--id", id]);
    expect(rotated.code).toBe(0);
    expect(lastLine(rotated.stdout)).toMatch(/^sb_/);
    expect((await cli(["keys", "list", "--email", "cli@example.com"])).stdout).toMatch(/revoked/);
    const extra = await cli(["keys", "create", "--email", "cli@example.com", "--label", "ci"]);
    expect(lastLine(extra.stdout)).toMatch(/^sb_/);
    const extraId = /Created key ([0-9a-f-]{36})/.exec(extra.stdout)![1];
    const revoked = await cli(["keys", "revoke", "--id", extraId]);
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toContain("Revoked");
  });

  it.each([
    [["bogus"], /unknown command "bogus"/],
    [["users", "create"], /missing --email/],
    [["users", "create", "--email", "not-an-email"], /not an email address/],
    [["users", "create", "--email", "cli@example.com"], /already exists/],
    [["keys", "revoke", "--id", "00000000-0000-0000-0000-000000000000"], /no API key with id/],
    [["keys", "list", "--email", "nobody@example.com"], /no user with email/],
    [["users", "create", "--email", "x@y.z", "--wat"], /Unknown option '--wat'/],
  ])("%j fails with one clear line and a non-zero exit", async (args, message) => {
    const r = await cli(args as string[]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it("analytics rebuild recomputes rolled-up hours and refuses a bad range", async () => {
    const ok = await cli(["analytics", "rebuild", "--from", "2026-01-01T00:00:00Z"]);
    expect(ok.code).toBe(0);
    expect(lastLine(ok.stdout)).toMatch(/^Recomputed \d+ rolled-up hour\(s\) between 2026-01-01T00:00:00.000Z and /);
    const bad = await cli(["analytics", "rebuild", "--from", "yesterday"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/--from must be an ISO date-time/);
    const missing = await cli(["analytics", "rebuild"]);
    expect(missing.stderr).toMatch(/missing --from/);
  });

  it("says which dependency is unreachable, where, and how to start it", async () => {
    const pg = await cli(["serve"], { DATABASE_URL: "postgres://postgres@127.0.0.1:1/nothing" });
    expect(pg.code).not.toBe(0);
    expect(pg.stderr).toMatch(/Cannot reach Postgres at 127\.0\.0\.1:1 .*Start Postgres/);
    const redis = await cli(["serve"], { REDIS_URL: "redis://127.0.0.1:1" });
    expect(redis.code).not.toBe(0);
    expect(redis.stderr).toMatch(/Cannot reach Redis at 127\.0\.0\.1:1 .*Start Redis/);
    const bad = await cli(["serve"], { PORT: "http" });
    expect(bad.stderr).toMatch(/PORT must be an integer/);
  });
});
