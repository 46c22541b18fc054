/**
 * Logs a person can use, read from the real server's stdout at its default level: `node
 * dist/src/main.js serve` as users run it (dist/ is built by .ci/run before the tests; locally
 * `npm run build`). Piped, the lines are JSON; on a terminal in development they are pretty.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, startTestApp, type TestApp } from "../helpers/test-app";

const ROOT = path.resolve(__dirname, "../..");
const ENTRY = path.join(ROOT, "dist/src/main.js");

interface Server {
  child: ChildProcess;
  port: number;
  output(): string;
  stop(): Promise<void>;
}

async function serve(t: TestApp, command: (entry: string) => [string, string[]], env: Record<string, string> = {}): Promise<Server> {
  if (!existsSync(ENTRY)) throw new Error("dist/src/main.js is missing: run `npm run build` first (CI's .ci/run builds before the tests)");
  const port = await freePort();
  const [cmd, args] = command(ENTRY);
  const child = spawn(cmd, args, {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: "development", // default LOG_LEVEL (info)
      DATABASE_URL: t.db.url, REDIS_URL: t.config.redis.url, REDIS_PREFIX: t.config.redis.prefix,
      PORT: String(port), HOST: "127.0.0.1", PUBLIC_URL: `http://127.0.0.1:${port}`, JOB_BACKOFF_MS: "50", ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout!.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr!.on("data", (b: Buffer) => (out += b.toString()));
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const deadline = Date.now() + 60_000;
  for (;;) {
    const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false);
    if (ok) break;
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`serve did not become ready:\n${out.slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    child, port, output: () => out,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

const jsonLines = (out: string) =>
  out.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, any>);

/** Waits until a JSON line matching `test` appears. */
async function line(s: Server, test: (l: Record<string, any>) => boolean, label: string, timeoutMs = 30_000): Promise<Record<string, any>> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const hit = jsonLines(s.output()).find(test);
    if (hit) return hit;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no log line for ${label}; the server printed:\n${s.output().slice(-3000)}`);
}

async function gql(s: Server, key: string | null, query: string) {
  const res = await fetch(`http://127.0.0.1:${s.port}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify({ query }),
  });
  return (await res.json()) as { data?: any; errors?: any[] };
}

describe("logs from `node dist/src/main.js serve` at the default level", () => {
  let t: TestApp; // the database, migrations and users; its own API is not used
  let user: { id: string; key: string };
  let s: Server;
  beforeAll(async () => {
    t = await startTestApp({}, { workers: false });
    user = await t.createUser();
    s = await serve(t, (entry) => [process.execPath, [entry, "serve"]]);
  }, 120_000);
  afterAll(async () => {
    await s?.stop();
    await t?.close();
  });

  it("a request line names the operation, its type, the user, the outcome and the duration", async () => {
    expect((await gql(s, user.key, `query Me { me { id } }`)).data.me.id).toBe(user.id);
    const l = await line(s, (x) => x.operation === "Me" && x.outcome === "ok", "query Me");
    expect(l).toMatchObject({ level: 30, operation: "Me", operationType: "query", userId: user.id, outcome: "ok", req: { method: "POST", path: "/graphql" }, res: { statusCode: 200 } });
    expect(typeof l.durationMs).toBe("number");
    expect(l.requestId).toBeTruthy();
    expect(l.msg).toMatch(/^query Me ok \(200\) in \d+ ms$/);
    expect(JSON.stringify(l)).not.toContain(user.key); // the key never reaches the log
  });

  it("a failed operation names its error codes", async () => {
    expect((await gql(s, null, `query Quota { quota { periodStart } }`)).errors?.[0].extensions.code).toBe("UNAUTHENTICATED");
    const l = await line(s, (x) => x.operation === "Quota", "query Quota without a key");
    expect(l).toMatchObject({ operationType: "query", outcome: "error", errorCodes: ["UNAUTHENTICATED"] });
    expect(l.userId).toBeUndefined();
    expect(l.msg).toMatch(/^query Quota error UNAUTHENTICATED \(200\) in \d+ ms$/);
  });

  it("a generation that fails logs one line with its id, error code and attempts", async () => {
    const res = await gql(s, user.key, `mutation CreateGeneration { createGeneration(input: {modality: TEXT, model: "simulated/text", prompt: "fail me", params: {simulate: {failWith: "unavailable"}}, wait: 30}) { id status error { code } } }`);
    const g = res.data.createGeneration;
    expect(g.status).toBe("FAILED");
    const l = await line(s, (x) => x.generationId === g.id && x.errorCode !== undefined, "the failed generation");
    expect(l).toMatchObject({ level: 40, generationId: g.id, userId: user.id, errorCode: g.error.code, attempts: 3, model: "simulated/text" });
    expect(l.msg).toBe(`generation ${g.id} failed: ${g.error.code} after 3 attempts`);
    await new Promise((r) => setTimeout(r, 500));
    expect(jsonLines(s.output()).filter((x) => x.generationId === g.id && x.errorCode !== undefined)).toHaveLength(1);
    // and the request line says which generation it was about
    expect(await line(s, (x) => x.operation === "CreateGeneration", "the mutation")).toMatchObject({ generationId: g.id, operationType: "mutation", outcome: "ok" });
  });

  it("on a terminal in development the lines are pretty and coloured (pino-pretty); piped they are JSON", async () => {
    expect(jsonLines(s.output()).length).toBeGreaterThan(3); // piped: JSON
    // `script` gives the server a pseudo-terminal as stdout, as a developer's shell does.
    const tty = await serve(t, (entry) => ["script", ["-qfec", `${JSON.stringify(process.execPath)} ${JSON.stringify(entry)} serve --no-worker`, "/dev/null"]]);
    try {
      await gql(tty, user.key, `query Me { me { id } }`);
      const deadline = Date.now() + 15_000;
      while (!tty.output().includes("query Me ok") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      const out = tty.output();
      expect(out).toContain("query Me ok");
      expect(out).toContain("\u001b["); // ANSI colours
      expect(out.split("\n").filter((l) => l.trim().startsWith('{"level"'))).toEqual([]);
    } finally {
      await tty.stop();
    }
  }, 90_000);
});
