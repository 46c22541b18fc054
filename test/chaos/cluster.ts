/**
 * The chaos suite's cluster: real `switchboard` processes from the build (dist/), two
 * `serve --no-worker` API nodes and `worker` processes, on their own Postgres database and
 * their own Redis database (or a private redis-server), plus the faults: SIGKILL a worker,
 * flush or restart Redis, terminate every Postgres connection to the suite's database.
 * Everything listens on and talks to 127.0.0.1 only. No vitest in here: bench/chaos.ts uses it too.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { Client } from "pg";
import { Redis } from "ioredis";
import { createTestDatabase, PG_ADMIN_URL, type TestDatabase } from "../helpers/infra";
import { freePort } from "../helpers/test-app";

const ROOT = path.resolve(__dirname, "../..");
const MAIN = path.join(ROOT, "dist", "src", "main.js");

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Builds dist/ when it is missing or older than a source file (scripts/ensure-build.js, what
 * `npm start` runs); CI builds before `npm test`, so there this is a no-op.
 */
export function ensureBuild(): void {
  try {
    execFileSync(process.execPath, [path.join(ROOT, "scripts", "ensure-build.js")], { cwd: ROOT, stdio: "pipe", encoding: "utf8" });
  } catch (e) {
    const out = `${(e as { stdout?: string }).stdout ?? ""}${(e as { stderr?: string }).stderr ?? ""}`.trim();
    // tsc still emits JavaScript for files with type errors: go on with what was built, and say so.
    if (!existsSync(MAIN)) throw new Error(`chaos: the build failed and ${MAIN} is missing:\n${out}`);
    console.warn(`chaos: the build reported errors; running the JavaScript tsc emitted anyway:\n${out.split("\n").slice(0, 20).join("\n")}`);
  }
  if (!existsSync(MAIN)) throw new Error(`chaos: ${MAIN} is missing after the build; run npm run build`);
}

/** One switchboard process (an API node or a worker). */
export class Proc {
  private out = "";
  readonly exited: Promise<number | NodeJS.Signals | null>;
  /** Set when we stop or kill it; an exit without it is a crash. */
  stopping = false;
  /** Date.now() when it exited. */
  exitedAt?: number;
  exitStatus?: number | NodeJS.Signals | null;
  constructor(
    readonly name: string,
    readonly child: ChildProcess,
    /** The port its /readyz answers on (PORT for serve, METRICS_PORT for worker). */
    readonly port: number,
  ) {
    child.stdout!.on("data", (b: Buffer) => this.append(b));
    child.stderr!.on("data", (b: Buffer) => this.append(b));
    this.exited = new Promise<number | NodeJS.Signals | null>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode ?? child.signalCode);
      else child.once("exit", (code, signal) => resolve(code ?? signal));
    }).then((status) => {
      this.exitedAt = Date.now();
      this.exitStatus = status;
      return status;
    });
  }
  private append(b: Buffer) {
    this.out += b.toString();
    if (this.out.length > 200_000) this.out = this.out.slice(-100_000); // keep the tail only
  }
  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }
  /** The last `chars` of what it wrote (for failure messages). */
  tail(chars = 3000): string {
    return this.out.slice(-chars);
  }
  async kill(signal: NodeJS.Signals = "SIGTERM", graceMs = 10_000): Promise<void> {
    if (!this.alive) return;
    this.stopping = true;
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill("SIGKILL"), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

/** Redis the cluster owns: a logical database on the shared server (FLUSHDB) or a private server (restart). */
export interface ChaosRedis {
  url: string;
  /** Loses every key the cluster has (FLUSHDB, or a restart without persistence). */
  lose(): Promise<void>;
  close(): Promise<void>;
  describe: string;
}

/** A logical database of the shared Redis on 6379 that no other suite uses; FLUSHDB only touches it. */
export function sharedRedisDb(db: number): ChaosRedis {
  const url = `redis://127.0.0.1:6379/${db}`;
  return {
    url,
    describe: `FLUSHDB of Redis db ${db}`,
    async lose() {
      const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
      try {
        await r.connect();
        await r.flushdb();
      } finally {
        r.disconnect();
      }
    },
    async close() {
      await this.lose();
    },
  };
}

/** A private redis-server on a free loopback port, no persistence: `lose()` restarts it empty. */
export async function privateRedis(): Promise<ChaosRedis> {
  const port = await freePort();
  let proc: ChildProcess | undefined;
  const start = async () => {
    proc = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--maxmemory-policy", "noeviction"], { stdio: "ignore" });
    for (let i = 0; i < 100; i++) {
      const r = new Redis(port, "127.0.0.1", { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      r.on("error", () => undefined);
      const ok = await r.connect().then(() => r.ping(), () => null);
      r.disconnect();
      if (ok === "PONG") return;
      await sleep(100);
    }
    throw new Error(`chaos: private redis-server on ${port} did not start`);
  };
  const stop = async (signal: NodeJS.Signals) => {
    const p = proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise((r) => p.once("exit", r));
    p.kill(signal);
    await gone;
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    describe: `restart of a private redis-server on 127.0.0.1:${port} (no persistence)`,
    async lose() {
      await stop("SIGKILL");
      await start();
    },
    async close() {
      await stop("SIGTERM");
    },
  };
}

export interface ClusterOptions {
  redis: ChaosRedis;
  apiNodes: number;
  workers: number;
  /** Extra environment for every process (sweep, lock, concurrency …). */
  env: Record<string, string>;
  readyTimeoutMs?: number;
}

/** The running cluster: API nodes, workers (replaced after a kill), its database and Redis. */
export class Cluster {
  readonly apis: Proc[] = [];
  readonly workers: Proc[] = [];
  /** Every process ever started (for cleanup and logs). */
  readonly all: Proc[] = [];
  private seq = 0;
  private constructor(
    readonly db: TestDatabase,
    readonly prefix: string,
    private readonly opts: ClusterOptions,
  ) {}

  static async start(opts: ClusterOptions, prefix: string): Promise<Cluster> {
    ensureBuild();
    const db = await createTestDatabase();
    const c = new Cluster(db, prefix, opts);
    try {
      await Promise.all([
        ...Array.from({ length: opts.apiNodes }, (_, i) => c.spawnApi(i)),
        ...Array.from({ length: opts.workers }, () => c.spawnWorker()),
      ]);
    } catch (e) {
      await c.stop();
      throw e;
    }
    return c;
  }

  get redisUrl(): string {
    return this.opts.redis.url;
  }

  env(extra: Record<string, string> = {}): Record<string, string> {
    return {
      PATH: process.env.PATH ?? "",
      NODE_ENV: "test",
      LOG_LEVEL: "warn",
      DATABASE_URL: this.db.url,
      REDIS_URL: this.opts.redis.url,
      REDIS_PREFIX: this.prefix,
      HOST: "127.0.0.1",
      ...this.opts.env,
      ...extra,
    };
  }

  private async spawnProc(name: string, args: string[], port: number, extra: Record<string, string>): Promise<Proc> {
    const child = spawn(process.execPath, [MAIN, ...args], { cwd: ROOT, env: this.env(extra), stdio: ["ignore", "pipe", "pipe"] });
    const p = new Proc(name, child, port);
    this.all.push(p);
    const deadline = Date.now() + (this.opts.readyTimeoutMs ?? 60_000);
    for (;;) {
      const gone = await Promise.race([p.exited.then(() => true), sleep(150).then(() => false)]);
      if (gone) throw new Error(`chaos: ${name} exited before it was ready:\n${p.tail()}`);
      const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false);
      if (ok) return p;
      if (Date.now() > deadline) {
        await p.kill("SIGKILL");
        throw new Error(`chaos: ${name} not ready after ${this.opts.readyTimeoutMs ?? 60_000} ms:\n${p.tail()}`);
      }
    }
  }

  /** Starts an API node; `index` replaces the node at that index on the same port (after a crash). */
  async spawnApi(index = this.apis.length): Promise<Proc> {
    const port = this.apis[index]?.port ?? (await freePort());
    const p = await this.spawnProc(`api-${index + 1}${this.apis[index] ? "'" : ""}`, ["serve", "--no-worker"], port, { PORT: String(port), PUBLIC_URL: `http://127.0.0.1:${port}` });
    this.apis[index] = p;
    return p;
  }

  async spawnWorker(): Promise<Proc> {
    const port = await freePort();
    const p = await this.spawnProc(`worker-${++this.seq}`, ["worker"], port, { METRICS_PORT: String(port), PORT: "0" });
    this.workers.push(p);
    return p;
  }

  /**
   * Acts as a supervisor would (systemd, Kubernetes): restarts a process that crashed, once per
   * crash. Resolves with the names restarted.
   */
  async restartCrashed(): Promise<string[]> {
    const out: string[] = [];
    for (const p of this.crashes()) {
      if (this.restarted.has(p)) continue;
      this.restarted.add(p);
      const i = this.apis.indexOf(p);
      const q = i >= 0 ? await this.spawnApi(i) : await this.spawnWorker();
      out.push(`${p.name} → ${q.name}`);
    }
    return out;
  }
  private readonly restarted = new Set<Proc>();

  /** Processes that exited without being stopped or killed by us. */
  crashes(): Proc[] {
    return this.all.filter((p) => !p.alive && !p.stopping);
  }

  liveWorkers(): Proc[] {
    return this.workers.filter((w) => w.alive);
  }

  /** SIGKILLs `w` (no cleanup of any kind: locks, sockets and Redis state are left as they are). */
  async killWorker(w: Proc): Promise<void> {
    w.stopping = true;
    w.child.kill("SIGKILL");
    await w.exited;
  }

  /** Runs a one-shot CLI command against the cluster; resolves with its exit code and output. */
  cli(args: string[]): Promise<{ code: number | null; out: string }> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [MAIN, ...args], { cwd: ROOT, env: this.env(), stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      child.stdout.on("data", (b: Buffer) => (out += b.toString()));
      child.stderr.on("data", (b: Buffer) => (out += b.toString()));
      child.on("exit", (code) => resolve({ code, out }));
    });
  }

  /** Creates a user through the CLI and returns its API key (printed alone on the last line). */
  async createUser(email: string, tier: "free" | "pro" | "enterprise"): Promise<string> {
    const res = await this.cli(["users", "create", "--email", email, "--tier", tier]);
    const key = res.out.trim().split("\n").at(-1)?.trim() ?? "";
    if (res.code !== 0 || !key.startsWith("sb_")) throw new Error(`chaos: users create failed (${res.code}):\n${res.out}`);
    return key;
  }

  /** pg_terminate_backend on every connection to the suite's database (only that one); returns how many. */
  async purgePostgres(): Promise<number> {
    const c = new Client({ connectionString: PG_ADMIN_URL });
    await c.connect();
    try {
      const rows = await c.query(`SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, [this.db.name]);
      return rows.rows.filter((r: { ok: boolean }) => r.ok).length;
    } finally {
      await c.end();
    }
  }

  loseRedis(): Promise<void> {
    return this.opts.redis.lose();
  }

  /** Stops every process (SIGTERM, SIGKILL after a grace), drops the database and the Redis data. */
  async stop(): Promise<void> {
    await Promise.all(this.all.map((p) => p.kill("SIGTERM", 8000).catch(() => undefined)));
    await this.db.drop().catch(() => undefined);
    await this.opts.redis.close().catch(() => undefined);
  }
}
