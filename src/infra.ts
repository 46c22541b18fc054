/**
 * Connecting to Postgres and Redis with messages a newcomer can act on.
 */
import { Redis } from "ioredis";
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

export async function connectPostgres(opts: { url: string; poolSize: number; create: boolean; onQuery?: (sql: string) => void }): Promise<DataSource> {
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

/** A Redis connection fit for BullMQ (maxRetriesPerRequest: null); fails fast with a clear message when unreachable. */
export async function connectRedis(url: string, name: string, opts: { autoPipelining?: boolean } = {}): Promise<Redis> {
  const redis = new Redis(url, {
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
    throw new UserFacingError(`Cannot reach Redis at ${where(url)} (${(err as Error).message}). ${REDIS_HINT}`);
  }
}
