/**
 * Per-suite isolation on the real Postgres and Redis: a fresh database (migrated) and a
 * unique Redis prefix, both removed afterwards.
 */
import { randomBytes } from "node:crypto";
import { Client } from "pg";
import { Redis } from "ioredis";
import { createDataSource } from "../../src/db/data-source";

export const PG_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres";
export const REDIS_URL = "redis://127.0.0.1:6379";

export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

export async function createTestDatabase(opts: { migrate?: boolean } = {}): Promise<TestDatabase> {
  const name = `sb_test_${randomBytes(6).toString("hex")}`;
  const admin = new Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = `postgres://postgres@127.0.0.1:5432/${name}`;
  if (opts.migrate !== false) {
    const ds = createDataSource({ url, poolSize: 2 });
    await ds.initialize();
    await ds.runMigrations();
    await ds.destroy();
  }
  return {
    name,
    url,
    async drop() {
      const c = new Client({ connectionString: PG_ADMIN_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

export function uniquePrefix(): string {
  return `sbt_${randomBytes(5).toString("hex")}`;
}

/** Deletes every Redis key under the prefix (queues, seq counters, settings). */
export async function dropRedisPrefix(prefix: string): Promise<void> {
  const r = new Redis(REDIS_URL);
  try {
    let cursor = "0";
    do {
      const [next, keys] = await r.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
      cursor = next;
      if (keys.length) await r.del(...keys);
    } while (cursor !== "0");
  } finally {
    r.disconnect();
  }
}
