/**
 * Connecting to Postgres and Redis with messages a newcomer can act on.
 */
import { Cluster, Redis } from "ioredis";
import type { DataSource } from "typeorm";
import { UserFacingError } from "./common/errors";
import { createDataSource, ensureDatabase, pendingMigrations } from "./db/data-source";

const where = (url: string) => {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || (u.protocol.startsWith("redis") ? 6379 : 5432)}`;
  } catch {
    return url;
  }
};

export const POSTGRES_HINT =
  "Start Postgres (e.g. `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`, or `docker compose up -d postgres`) or set DATABASE_URL.";
export const REDIS_HINT =
  'Start Redis (e.g. `redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no`, or `docker compose up -d redis`) or set REDIS_URL.';

export async function connectPostgres(opts: { url: string; poolSize: number; create: boolean; onQuery?: (sql: string) => void; preparedStatements?: boolean }): Promise<DataSource> {
  try {
    if (opts.create) await ensureDatabase(opts.url);
    const ds = createDataSource(opts);
    await ds.initialize();
    return ds;
  } catch (err) {
    const e = err as Error & { code?: string };
    throw new UserFacingError(`Cannot reach Postgres at ${where(opts.url)} (${e.code ?? e.message}). ${POSTGRES_HINT}`);
  }
}

export async function assertMigrated(ds: DataSource): Promise<void> {
  const pending = await pendingMigrations(ds);
  if (pending.length)
    throw new UserFacingError(`The database schema is behind (${pending.length} pending migration(s): ${pending.join(", ")}). Run \`switchboard migrate\` first.`);
}

/** `host:port` seed nodes, checked (REDIS_CLUSTER_NODES / CACHE_REDIS_CLUSTER_NODES). */
function parseNodes(nodes: readonly string[], envName: string): { host: string; port: number }[] {
  return nodes.map((n) => {
    const m = /^(.+):(\d{1,5})$/.exec(n);
    if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) throw new UserFacingError(`${envName}: "${n}" is not host:port`);
    return { host: m[1].replace(/^\[|\]$/g, ""), port: Number(m[2]) };
  });
}

/**
 * An ioredis Cluster over the seed nodes, with the URL's user, password and TLS for every node.
 * Typed as `Redis`: every module here uses only the commands both share (a Cluster routes each by
 * its key's slot, and every key family is hash-tagged so each script, MULTI and pipeline touches
 * one slot); the one node-local command, SCAN, is run on every master where it is used.
 */
function createCluster(url: string, nodes: readonly string[], envName: string, name: string, autoPipelining: boolean): Redis {
  const u = new URL(url);
  const cluster = new Cluster(parseNodes(nodes, envName), {
    lazyConnect: true, enableReadyCheck: true, enableAutoPipelining: autoPipelining,
    redisOptions: {
      // CLIENT SETINFO needs Redis 7.2; older cluster nodes answer ERR, noise in their error stats.
      maxRetriesPerRequest: null, connectionName: name, disableClientInfo: true,
      username: u.username ? decodeURIComponent(u.username) : undefined,
      password: u.password ? decodeURIComponent(u.password) : undefined,
      tls: u.protocol === "rediss:" ? {} : undefined,
    },
  });
  return cluster as unknown as Redis;
}

/**
 * A Redis connection fit for BullMQ (maxRetriesPerRequest: null); fails fast with a clear message
 * when unreachable. With `clusterNodes` it is a Redis Cluster client (see createCluster).
 */
export async function connectRedis(url: string, name: string, opts: { autoPipelining?: boolean; clusterNodes?: readonly string[]; clusterEnv?: string } = {}): Promise<Redis> {
  const nodes = opts.clusterNodes ?? [];
  const redis = nodes.length
    ? createCluster(url, nodes, opts.clusterEnv ?? "REDIS_CLUSTER_NODES", name, opts.autoPipelining ?? false)
    : new Redis(url, {
      maxRetriesPerRequest: null, lazyConnect: true, connectionName: name, enableReadyCheck: true,
      enableAutoPipelining: opts.autoPipelining ?? false,
    });
  redis.on("error", () => undefined); // reconnects by itself; readiness reports the state
  try {
    await Promise.race([
      redis.connect(),
      new Promise((_, reject) => setTimeout(() => reject(new Error("timed out after 5s")), 5000)),
    ]);
    return redis;
  } catch (err) {
    redis.disconnect();
    const at = nodes.length ? `the Redis Cluster at ${nodes.join(",")}` : `Redis at ${where(url)}`;
    throw new UserFacingError(`Cannot reach ${at} (${(err as Error).message}). ${REDIS_HINT}`);
  }
}
