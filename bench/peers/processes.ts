/**
 * The processes of `npm run bench:peers`, each its own Node process as it would be deployed
 * (the load generator is the parent): our TypeScript children over IPC, and Portkey through its
 * own bin. Every one started is stopped by {@link stopAll}, also when the run fails.
 */
import { execFileSync, fork, spawn, type ChildProcess } from "node:child_process";
import net from "node:net";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";

export interface Proc {
  name: string;
  info: Record<string, any>;
  /** Sends `cmd` and resolves with the child's next message (IPC children only). */
  ask(cmd: string): Promise<any>;
  stop(): Promise<void>;
}

const started: Proc[] = [];

function exited(proc: ChildProcess, ms: number): Promise<void> {
  return new Promise((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
    const timer = setTimeout(() => {
      proc.kill("SIGKILL");
      resolve();
    }, ms);
    proc.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/**
 * How our children run: by default compiled first (tsconfig.build.json here, with tsc) and run by
 * plain node, as `npm start` runs the product from dist/ — ts-node in a process costs it about a
 * seventh of its throughput (its REPL import loads node:domain, which wraps every EventEmitter
 * emit). BENCH_PEERS_TSNODE=1 runs them from source under ts-node instead.
 */
export const RUNTIME: "compiled" | "ts-node" = process.env.BENCH_PEERS_TSNODE === "1" ? "ts-node" : "compiled";
const BUILD_DIR = join(__dirname, "..", "..", "node_modules", ".cache", "switchboard-bench-peers");
let built = false;

function childEntry(script: string): { file: string; execArgv: string[] } {
  if (RUNTIME === "ts-node") return { file: join(__dirname, script), execArgv: ["-r", "ts-node/register/transpile-only"] };
  if (!built) {
    execFileSync(process.execPath, [require.resolve("typescript/bin/tsc"), "-p", join(__dirname, "tsconfig.build.json"), "--outDir", BUILD_DIR], {
      stdio: ["ignore", process.stderr, "inherit"],
    });
    built = true;
  }
  return { file: join(BUILD_DIR, "bench", "peers", script.replace(/\.ts$/, ".js")), execArgv: [] };
}

/** Forks bench/peers/<script> (see {@link RUNTIME}); resolves with its first IPC message (its port …). */
export function forkChild(name: string, script: string, env: Record<string, string> = {}, execArgv: string[] = []): Promise<Proc> {
  const entry = childEntry(script);
  const proc = fork(entry.file, [], {
    execArgv: [...entry.execArgv, ...execArgv],
    env: { ...process.env, ...env },
    // A child's log lines go to stderr: stdout is the run's JSON alone.
    stdio: ["ignore", process.stderr, "inherit", "ipc"],
  });
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`${name} (${script}) exited with ${code} before it was ready`));
    proc.once("exit", onExit);
    proc.once("message", (info) => {
      proc.off("exit", onExit);
      const p: Proc = {
        name,
        info: info as Record<string, any>,
        ask: (cmd) =>
          new Promise((res) => {
            proc.once("message", res);
            proc.send({ cmd });
          }),
        async stop() {
          if (proc.connected) proc.send({ cmd: "stop" });
          await exited(proc, 30_000);
        },
      };
      started.push(p);
      resolve(p);
    });
  });
}

/**
 * Portkey's gateway from its published bin (`start-server.js --port=N --headless`), which listens
 * on every interface: loopback-only.cjs is preloaded so it binds 127.0.0.1. Ready once `GET /`
 * answers.
 */
export async function startPortkey(port: number): Promise<Proc> {
  const bin = require.resolve("@portkey-ai/gateway/build/start-server.js");
  const info = {
    port,
    version: require("@portkey-ai/gateway/package.json").version as string,
    // package.json pins it for Portkey (overrides): see the README's peers benchmark.
    honoNodeServer: packageVersion(require.resolve("@hono/node-server", { paths: [dirname(bin)] })),
  };
  const proc = spawn(process.execPath, ["-r", join(__dirname, "loopback-only.cjs"), bin, `--port=${port}`, "--headless"], {
    env: { ...process.env, NODE_ENV: "production" },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const p: Proc = {
    name: "portkey",
    info,
    ask: () => Promise.reject(new Error("portkey has no IPC")),
    async stop() {
      proc.kill("SIGTERM");
      await exited(proc, 10_000);
    },
  };
  started.push(p);
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`portkey exited with ${proc.exitCode} before it was ready`);
    const up = await fetch(`http://127.0.0.1:${port}/`).then((r) => r.ok, () => false);
    if (up) return p;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error("portkey did not answer GET / within 60 s");
}

/** The version in the package.json above a resolved entry file (for packages whose exports hide it). */
function packageVersion(entry: string): string {
  for (let dir = dirname(entry); dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, "package.json"))) {
      const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { name?: string; version?: string };
      if (pkg.name && pkg.version) return pkg.version;
    }
  }
  return "unknown";
}

/** A free loopback port (for Portkey, whose bin takes --port). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** Stops every process started here, last started first. */
export async function stopAll(): Promise<void> {
  for (const p of started.splice(0).reverse()) await p.stop().catch(() => undefined);
}
