/**
 * A throwaway 3-master Redis Cluster on free loopback ports (redis-server --cluster-enabled ×3 +
 * `redis-cli --cluster create`), for tests that run the product on a cluster. Each node keeps
 * its config in a temporary directory removed by stop().
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import { freePort } from "./test-app";

export interface TestRedisCluster {
  /** `127.0.0.1:port` of every master (what REDIS_CLUSTER_NODES takes). */
  nodes: string[];
  /** `INFO errorstats` of every node, merged: error prefix → count (CROSSSLOT, MOVED, …). */
  errorStats(): Promise<Record<string, number>>;
  stop(): Promise<void>;
}

/** Whether redis-server and redis-cli are on the PATH. */
export const hasRedisServer = (): boolean =>
  spawnSync("redis-server", ["--version"]).status === 0 && spawnSync("redis-cli", ["--version"]).status === 0;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startRedisCluster(masters = 3, readyTimeoutMs = 30_000): Promise<TestRedisCluster> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "sb-redis-cluster-"));
  const procs: ChildProcess[] = [];
  const ports: number[] = [];
  let out = "";
  const stop = async () => {
    for (const p of procs) {
      if (p.exitCode !== null || p.signalCode !== null) continue;
      const gone = new Promise((r) => p.once("exit", r));
      p.kill("SIGTERM");
      await Promise.race([gone, sleep(5000).then(() => p.kill("SIGKILL"))]);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < masters; i++) {
      const port = await freePort();
      ports.push(port);
      const p = spawn("redis-server", [
        "--port", String(port), "--cluster-enabled", "yes", "--cluster-config-file", path.join(dir, `nodes-${port}.conf`),
        "--save", "", "--appendonly", "no", "--bind", "127.0.0.1", "--daemonize", "no", "--dir", dir,
      ], { stdio: ["ignore", "pipe", "pipe"] });
      p.stdout!.on("data", (b: Buffer) => (out += b.toString()));
      p.stderr!.on("data", (b: Buffer) => (out += b.toString()));
      procs.push(p);
    }
    const nodes = ports.map((p) => `127.0.0.1:${p}`);
    const clients = ports.map((port) => new Redis({ host: "127.0.0.1", port, lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => 100, disableClientInfo: true }));
    try {
      const deadline = Date.now() + readyTimeoutMs;
      for (const c of clients) {
        for (;;) {
          if (await c.ping().then(() => true, () => false)) break;
          if (Date.now() > deadline) throw new Error(`redis-server did not answer:\n${out}`);
          await sleep(100);
        }
      }
      const create = spawnSync("redis-cli", ["--cluster", "create", ...nodes, "--cluster-replicas", "0", "--cluster-yes"], { encoding: "utf8", timeout: readyTimeoutMs });
      if (create.status !== 0) throw new Error(`redis-cli --cluster create failed:\n${create.stdout}\n${create.stderr}`);
      for (const c of clients) {
        for (;;) {
          const info = await c.cluster("INFO").catch(() => "") as string;
          if (/cluster_state:ok/.test(info)) break;
          if (Date.now() > deadline) throw new Error(`the cluster never reached cluster_state:ok:\n${info}`);
          await sleep(100);
        }
      }
    } finally {
      for (const c of clients) c.disconnect();
    }
    return {
      nodes,
      async errorStats() {
        const stats: Record<string, number> = {};
        for (const port of ports) {
          const c = new Redis({ host: "127.0.0.1", port, maxRetriesPerRequest: 1, disableClientInfo: true });
          try {
            const info = await c.info("errorstats");
            for (const m of info.matchAll(/^errorstat_([^:]+):count=(\d+)/gm)) stats[m[1]] = (stats[m[1]] ?? 0) + Number(m[2]);
          } finally {
            c.disconnect();
          }
        }
        return stats;
      },
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
