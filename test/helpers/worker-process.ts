/**
 * Runs `switchboard worker` through the installed bin (package.json `bin` → bin/switchboard.js →
 * dist/) as a separate OS process against a test app's database and Redis prefix: the real
 * scale-out and crash story. The bin is run by node directly (not through npx) so that `child`
 * is the server process itself: its pid, its exit code, and a SIGKILL that kills it.
 */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { BIN, ensureDist } from "./installed-cli";
import { freePort, type TestApp } from "./test-app";

export interface WorkerProcess {
  child: ChildProcess;
  metricsPort: number;
  /** Everything the process wrote to stderr/stdout (for failure messages). */
  output(): string;
  /** Resolves with the exit code or signal once the process is gone. */
  exited: Promise<number | NodeJS.Signals | null>;
  /** Sends `signal` (default SIGTERM) and waits for the exit; SIGKILL after `graceMs`. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<void>;
}

const ROOT = path.resolve(__dirname, "../..");

/** Spawns a worker process on `t`'s database and prefix and resolves once its /readyz answers 200. */
export async function spawnWorker(t: TestApp, env: Record<string, string> = {}, readyTimeoutMs = 30_000, args: string[] = ["worker"]): Promise<WorkerProcess> {
  ensureDist();
  const metricsPort = await freePort();
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      NODE_ENV: "test",
      LOG_LEVEL: "warn",
      DATABASE_URL: t.db.url,
      REDIS_URL: t.config.redis.url,
      REDIS_PREFIX: t.config.redis.prefix,
      METRICS_PORT: String(metricsPort),
      PORT: String(metricsPort), // `serve` answers /readyz on its HTTP port
      HOST: "127.0.0.1",
      JOB_BACKOFF_MS: "50",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout!.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr!.on("data", (b: Buffer) => (out += b.toString()));
  const exited = new Promise<number | NodeJS.Signals | null>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode ?? child.signalCode);
    else child.once("exit", (code, signal) => resolve(code ?? signal));
  });
  const w: WorkerProcess = {
    child,
    metricsPort,
    output: () => out,
    exited,
    async stop(signal = "SIGTERM", graceMs = 15_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
  // Bounded poll: the process has no other way to say it is ready.
  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    const gone = await Promise.race([exited.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 100))]);
    if (gone) throw new Error(`worker process exited before it was ready:\n${out}`);
    const ok = await fetch(`http://127.0.0.1:${metricsPort}/readyz`).then((r) => r.ok, () => false);
    if (ok) return w;
    if (Date.now() > deadline) {
      await w.stop("SIGKILL");
      throw new Error(`worker process not ready after ${readyTimeoutMs} ms:\n${out}`);
    }
  }
}
