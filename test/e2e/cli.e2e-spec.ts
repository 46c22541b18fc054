/**
 * The CLI through the door users use: `npx --no-install switchboard …` on the built package
 * (package.json `bin` → bin/switchboard.js → dist/). Nothing here enters through ts-node.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PG_ADMIN_URL, dropRedisPrefix, uniquePrefix } from "../helpers/infra";
import { ensureDist, npxSwitchboard, runSwitchboard } from "../helpers/installed-cli";
import { freePort } from "../helpers/test-app";

const dbName = `sb_test_cli_${randomBytes(5).toString("hex")}`;
const prefix = uniquePrefix();
const baseEnv = { DATABASE_URL: `postgres://postgres@127.0.0.1:5432/${dbName}`, REDIS_PREFIX: prefix, NODE_ENV: "development" };
const cli = (args: string[], env: Record<string, string | undefined> = {}) => runSwitchboard(args, { ...baseEnv, ...env });
const lastLine = (s: string) => s.trim().split("\n").at(-1)!;
const KEY_RE = /sb_[A-Za-z0-9]{8}_[A-Za-z0-9]+/;
const version = (require("../../package.json") as { version: string }).version;

/** Every process below `pid` (npx runs the bin through a shell). */
function descendants(pid: number): number[] {
  let out = "";
  try {
    out = execFileSync("ps", ["-o", "pid=", "--ppid", String(pid)], { encoding: "utf8" });
  } catch {
    // ps exits 1 when there are none
  }
  const kids = out.split("\n").map((l) => Number(l.trim())).filter(Boolean);
  return kids.flatMap((k) => [k, ...descendants(k)]);
}
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** No stack frames, one line. */
function oneLine(stderr: string): string {
  expect(stderr).not.toMatch(/\n\s+at /);
  expect(stderr.trim().split("\n"), stderr).toHaveLength(1);
  return stderr.trim();
}

describe("the installed switchboard CLI", { timeout: 180_000 }, () => {
  beforeAll(() => ensureDist(), 600_000);
  afterAll(async () => {
    const c = new Client({ connectionString: PG_ADMIN_URL });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await c.end();
    await dropRedisPrefix(prefix);
  });

  it("serve --setup migrates and prints the first admin's key on the terminal (stderr), never in the JSON log stream; exits 0 on SIGTERM", async () => {
    const port = await freePort();
    // Default log level: stdout is the JSON log stream a collector would ship. Own process group,
    // so the signal reaches npx and the server as Ctrl-C in a terminal does.
    const child = npxSwitchboard(["serve", "--setup"], { ...baseEnv, PORT: String(port), HOST: "127.0.0.1" }, { detached: true });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (b: Buffer) => (stdout += b.toString()));
    child.stderr!.on("data", (b: Buffer) => (stderr += b.toString()));
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    try {
      const deadline = Date.now() + 90_000;
      while (!KEY_RE.test(stderr) && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 100));
      const key = KEY_RE.exec(stderr)?.[0];
      expect(key, `stderr:\n${stderr}\nstdout:\n${stdout}`).toBeTruthy();
      expect(stderr).toContain(`http://localhost:${port}/graphql`);
      expect(stderr).toContain("curl -s");
      const me = await fetch(`http://127.0.0.1:${port}/graphql`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${key}` }, body: JSON.stringify({ query: "{ me { role email } }" }) });
      expect(((await me.json()) as any).data.me).toEqual({ role: "ADMIN", email: "admin@localhost" });
      // stdout: JSON lines only, the key in none of them.
      await expect.poll(() => stdout.includes('"switchboard started"'), { timeout: 10_000 }).toBe(true);
      const lines = stdout.trim().split("\n");
      for (const line of lines) expect(() => JSON.parse(line), line).not.toThrow();
      expect(stdout).not.toContain(key);
      expect(stdout).not.toMatch(KEY_RE);
      // Ctrl-C/SIGTERM to the whole group (npm exec → sh → node): the server shuts down cleanly and
      // nothing is left running. (npm re-raises the signal on itself, so npx's own status is the signal;
      // the server's exit code 0 on SIGTERM is asserted through the bin in shutdown.e2e-spec.ts.)
      const tree = descendants(child.pid!);
      expect(tree.length).toBeGreaterThan(0);
      process.kill(-child.pid!, "SIGTERM");
      await exited;
      await expect.poll(() => tree.filter(alive), { timeout: 30_000 }).toEqual([]);
      expect(stdout).toMatch(/"msg":"shutting down"/);
      expect(stderr).not.toMatch(/Error|\n\s+at /);
    } finally {
      for (const pid of [child.pid!, ...descendants(child.pid!)]) if (alive(pid)) process.kill(pid, "SIGKILL");
    }
  });

  it("users create prints the key alone on the last line; keys list, rotate and revoke work", async () => {
    const created = await cli(["users", "create", "--email", "cli@example.com", "--tier", "pro"]);
    expect(created.code, created.stderr).toBe(0);
    const key = lastLine(created.stdout);
    expect(key).toMatch(/^sb_[A-Za-z0-9]{8}_[A-Za-z0-9]{32}$/);
    const list = await cli(["keys", "list", "--email", "cli@example.com"]);
    expect(list.code, list.stderr).toBe(0);
    const id = list.stdout.trim().split(/\s+/)[0];
    expect(list.stdout).toContain(`sb_${key.slice(3, 11)}_…`);
    expect(list.stdout).not.toContain(key);
    const rotated = await cli(["keys", "rotate", "--id", id]);
    expect(rotated.code, rotated.stderr).toBe(0);
    expect(lastLine(rotated.stdout)).toMatch(/^sb_/);
    expect((await cli(["keys", "list", "--email", "cli@example.com"])).stdout).toMatch(/revoked/);
    const extra = await cli(["keys", "create", "--email", "cli@example.com", "--label", "ci"]);
    expect(lastLine(extra.stdout)).toMatch(/^sb_/);
    const extraId = /Created key ([0-9a-f-]{36})/.exec(extra.stdout)![1];
    const revoked = await cli(["keys", "revoke", "--id", extraId]);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(revoked.stdout).toContain("Revoked");
    const verify = await cli(["quotas", "verify"]);
    expect(verify.code, verify.stderr).toBe(0);
    expect(lastLine(verify.stdout)).toMatch(/budget period\(s\) checked against the spend ledger/);
  });

  it("keys create takes limits, keys rotate --overlap keeps the old key until then, users list/update change tier and disable (the same services as GraphQL)", async () => {
    const email = `limits-${randomBytes(3).toString("hex")}@example.com`; // unique per attempt (a retried test re-creates it)
    expect((await cli(["users", "create", "--email", email])).code).toBe(0);
    const created = await cli(["keys", "create", "--email", email, "--label", "ci", "--expires", "2099-01-01T00:00:00Z", "--budget", "2.5", "--models", "simulated/text, auto", "--rate-limit", "30"]);
    expect(created.code, created.stderr).toBe(0);
    const id = /Created key ([0-9a-f-]{36})/.exec(created.stdout)![1];
    const list = await cli(["keys", "list", "--email", email]);
    expect(list.stdout).toContain(`${id}`);
    expect(list.stdout).toMatch(/expires 2099-01-01T00:00:00\.000Z; budget \$2\.5; models simulated\/text,auto; 30\/min/);
    const rotated = await cli(["keys", "rotate", "--id", id, "--overlap", "3600"]);
    expect(rotated.code, rotated.stderr).toBe(0);
    expect(rotated.stdout).toMatch(/keeps working until \d{4}-.*then stops on every node/);
    expect(lastLine(rotated.stdout)).toMatch(/^sb_/);
    const after = (await cli(["keys", "list", "--email", email])).stdout.trim().split("\n");
    expect(after).toHaveLength(3); // default key, the rotated one (active until its overlap ends), its replacement with the same limits
    expect(after.filter((l) => l.includes("models simulated/text,auto; 30/min"))).toHaveLength(2);
    expect(oneLine((await cli(["keys", "rotate", "--id", id])).stderr)).toMatch(/^switchboard keys rotate: API key .* is already rotated/);

    const updated = await cli(["users", "update", "--email", email, "--tier", "enterprise", "--disable"]);
    expect(updated.code, updated.stderr).toBe(0);
    expect(updated.stdout).toMatch(/tier enterprise, disabled/);
    const users = await cli(["users", "list", "--email-contains", email.toUpperCase()]);
    expect(users.stdout.trim().split("\n")).toHaveLength(1);
    expect(users.stdout).toMatch(new RegExp(`${email.replace(".", "\\.")}\\s+USER\\s+enterprise\\s+created \\S+\\s+disabled`));
    expect((await cli(["users", "update", "--email", email, "--enable"])).stdout).toMatch(/active/);
    expect(oneLine((await cli(["users", "update", "--email", email])).stderr)).toMatch(/^switchboard users update: give tier, disabled or both/);
    expect(oneLine((await cli(["keys", "create", "--email", email, "--expires", "2001-01-01T00:00:00Z"])).stderr)).toMatch(/^switchboard keys create: expiresAt must be in the future/);
    expect(oneLine((await cli(["keys", "create", "--email", email, "--budget", "-3"])).stderr)).toMatch(/^switchboard keys create: .*'-3' is invalid\. It must be an amount in USD/);
  });

  it("keys create takes limits, keys rotate --overlap keeps the old key until then, users list/update change tier and disable (the same services as GraphQL)", async () => {
    const email = `limits-${randomBytes(3).toString("hex")}@example.com`; // unique per attempt (a retried test creates it again)
    expect((await cli(["users", "create", "--email", email])).code).toBe(0);
    const created = await cli(["keys", "create", "--email", email, "--label", "ci", "--expires", "2099-01-01T00:00:00Z", "--budget", "2.5", "--models", "simulated/text, auto", "--rate-limit", "30"]);
    expect(created.code, created.stderr).toBe(0);
    const id = /Created key ([0-9a-f-]{36})/.exec(created.stdout)![1];
    const list = await cli(["keys", "list", "--email", email]);
    expect(list.stdout).toContain(`${id}`);
    expect(list.stdout).toMatch(/expires 2099-01-01T00:00:00\.000Z; budget \$2\.5; models simulated\/text,auto; 30\/min/);
    const rotated = await cli(["keys", "rotate", "--id", id, "--overlap", "3600"]);
    expect(rotated.code, rotated.stderr).toBe(0);
    expect(rotated.stdout).toMatch(/keeps working until \d{4}-.*then stops on every node/);
    expect(lastLine(rotated.stdout)).toMatch(/^sb_/);
    const after = (await cli(["keys", "list", "--email", email])).stdout.trim().split("\n");
    expect(after).toHaveLength(3); // default key, the rotated one (active until its overlap ends), its replacement with the same limits
    expect(after.filter((l) => l.includes("models simulated/text,auto; 30/min"))).toHaveLength(2);
    expect(oneLine((await cli(["keys", "rotate", "--id", id])).stderr)).toMatch(/^switchboard keys rotate: API key .* is already rotated/);

    const updated = await cli(["users", "update", "--email", email, "--tier", "enterprise", "--disable"]);
    expect(updated.code, updated.stderr).toBe(0);
    expect(updated.stdout).toMatch(/tier enterprise, disabled/);
    const users = await cli(["users", "list", "--email-contains", email.toUpperCase()]);
    expect(users.stdout.trim().split("\n")).toHaveLength(1);
    expect(users.stdout).toMatch(new RegExp(`${email.replace(".", "\\.")}\\s+USER\\s+enterprise\\s+created \\S+\\s+disabled`));
    expect((await cli(["users", "update", "--email", email, "--enable"])).stdout).toMatch(/active/);
    expect(oneLine((await cli(["users", "update", "--email", email])).stderr)).toMatch(/^switchboard users update: give tier, disabled or both/);
    expect(oneLine((await cli(["keys", "create", "--email", email, "--expires", "2001-01-01T00:00:00Z"])).stderr)).toMatch(/^switchboard keys create: expiresAt must be in the future/);
    expect(oneLine((await cli(["keys", "create", "--email", email, "--budget", "-3"])).stderr)).toMatch(/^switchboard keys create: .*'-3' is invalid\. It must be an amount in USD/);
  });

  it("--help on the root and on every command, -h too; --version prints package.json's version", async () => {
    const root = await cli(["--help"]);
    expect(root.code).toBe(0);
    for (const c of ["serve", "worker", "migrate", "users", "keys", "quotas", "analytics"]) expect(root.stdout).toMatch(new RegExp(`^\\s+${c}\\b`, "m"));
    const commands: [string[], RegExp][] = [
      [["serve", "--help"], /--no-worker[\s\S]*--setup/],
      [["worker", "-h"], /Usage: switchboard worker/],
      [["migrate", "--help"], /Usage: switchboard migrate/],
      [["users", "--help"], /create/],
      [["users", "create", "--help"], /--email <email>[\s\S]*--admin[\s\S]*--tier <tier>/],
      [["keys", "--help"], /create[\s\S]*list[\s\S]*revoke[\s\S]*rotate/],
      [["keys", "create", "-h"], /--label <label>/],
      [["keys", "list", "--help"], /--email <email>/],
      [["keys", "revoke", "--help"], /--id <id>/],
      [["keys", "rotate", "--help"], /--id <id>[\s\S]*--overlap <seconds>/],
      [["keys", "create", "--help"], /--expires <time>[\s\S]*--budget <usd>[\s\S]*--models <list>[\s\S]*--rate-limit <n>/],
      [["users", "update", "--help"], /--email <email>[\s\S]*--tier <tier>[\s\S]*--disable[\s\S]*--enable/],
      [["users", "list", "--help"], /--email-contains <text>/],
      [["quotas", "verify", "--help"], /Usage: switchboard quotas verify/],
      [["analytics", "rebuild", "--help"], /--from <time>[\s\S]*--to <time>/],
      [["help", "keys"], /revoke/],
    ];
    const results = await Promise.all(commands.map(([args]) => cli(args)));
    results.forEach((r, i) => {
      expect(r.code, `${commands[i][0].join(" ")}: ${r.stderr}`).toBe(0);
      expect(r.stdout).toMatch(commands[i][1]);
    });
    const v = await cli(["--version"]);
    expect(v.code).toBe(0);
    expect(v.stdout.trim()).toBe(version);
  });

  it.each([
    [["bogus"], /^switchboard: unknown command 'bogus'/],
    [["keys", "bogus"], /^switchboard keys: unknown command 'bogus'/],
    [["users", "create", "--email", "x@y.z", "--wat"], /^switchboard users create: unknown option '--wat'/],
    [["serve", "--wat"], /^switchboard serve: unknown option '--wat'/],
    [["users", "create"], /^switchboard users create: required option '--email <email>' not specified/],
    [["users", "create", "--email", "x@y.z", "--tier", "gold"], /^switchboard users create: .*'gold' is invalid.*free, pro, enterprise/],
    [["keys", "revoke", "--id", "nope"], /^switchboard keys revoke: .*'nope' is invalid\. It must be a key id/],
    [["keys", "rotate", "--id", "nope"], /^switchboard keys rotate: .*'nope' is invalid\. It must be a key id/],
    [["users", "create", "--email", "not-an-email"], /^switchboard users create: "not-an-email" is not an email address/],
    [["users", "create", "--email", "cli@example.com"], /already exists/],
    [["keys", "revoke", "--id", "00000000-0000-0000-0000-000000000000"], /^switchboard keys revoke: API key 00000000-0000-0000-0000-000000000000 was not found/],
    [["keys", "list", "--email", "nobody@example.com"], /^switchboard keys list: User nobody@example.com was not found/],
    [["analytics", "rebuild", "--from", "yesterday"], /^switchboard analytics rebuild: .*'yesterday' is invalid\. It must be an ISO date-time/],
    [["analytics", "rebuild"], /required option '--from <time>' not specified/],
    [["analytics", "rebuild", "--from", "2026-02-01T00:00:00Z", "--to", "2026-01-01T00:00:00Z"], /--from must be before --to/],
  ])("%j fails with one line on stderr naming the command, and a non-zero exit", async (args, message) => {
    const r = await cli(args as string[]);
    expect(r.code, r.stdout).not.toBe(0);
    expect(oneLine(r.stderr)).toMatch(message);
  });

  it("analytics rebuild recomputes rolled-up hours", async () => {
    const ok = await cli(["analytics", "rebuild", "--from", "2026-01-01T00:00:00Z"]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(lastLine(ok.stdout)).toMatch(/^Recomputed \d+ rolled-up hour\(s\) between 2026-01-01T00:00:00.000Z and /);
  });

  it("says which dependency is unreachable, where, and how to start it; names a bad setting", async () => {
    const [pg, redis, bad] = await Promise.all([
      cli(["serve"], { DATABASE_URL: "postgres://postgres@127.0.0.1:1/nothing" }),
      cli(["serve"], { REDIS_URL: "redis://127.0.0.1:1" }),
      cli(["serve"], { PORT: "http" }),
    ]);
    expect(pg.code).not.toBe(0);
    expect(oneLine(pg.stderr)).toMatch(/Cannot reach Postgres at 127\.0\.0\.1:1 .*Start Postgres/);
    expect(redis.code).not.toBe(0);
    expect(oneLine(redis.stderr)).toMatch(/Cannot reach Redis at 127\.0\.0\.1:1 .*Start Redis/);
    expect(bad.code).not.toBe(0);
    expect(oneLine(bad.stderr)).toMatch(/^switchboard serve: Invalid configuration: PORT must be an integer/);
  });

  it("in production, serve and worker refuse a missing or well-known signing secret or master key, in one line", async () => {
    const strong = randomBytes(32).toString("hex");
    const prod = { NODE_ENV: "production" };
    const [none, serveWeak, workerWeak] = await Promise.all([
      cli(["serve"], prod),
      cli(["serve", "--no-worker"], { ...prod, FILES_SIGNING_SECRET: "change-me-in-production", SWITCHBOARD_MASTER_KEY: strong }),
      cli(["worker"], { ...prod, FILES_SIGNING_SECRET: strong, SWITCHBOARD_MASTER_KEY: "a".repeat(40) }),
    ]);
    expect(none.code).toBe(1);
    expect(oneLine(none.stderr)).toMatch(/^switchboard serve: .*NODE_ENV=production needs FILES_SIGNING_SECRET and SWITCHBOARD_MASTER_KEY/);
    expect(serveWeak.code).toBe(1);
    expect(oneLine(serveWeak.stderr)).toMatch(/^switchboard serve: .*refuses FILES_SIGNING_SECRET: well known or too weak/);
    expect(workerWeak.code).toBe(1);
    expect(oneLine(workerWeak.stderr)).toMatch(/^switchboard worker: .*refuses SWITCHBOARD_MASTER_KEY/);
  });
});
