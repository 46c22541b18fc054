import "reflect-metadata";
import { DataSource } from "typeorm";
import { Client } from "pg";
import { migrations } from "../../migrations";
import { withoutPreparedStatements } from "./query-rows";
import { ApiKeyEntity } from "./entities/api-key.entity";
import { GenerationAttemptEntity } from "./entities/generation-attempt.entity";
import { GenerationEntity } from "./entities/generation.entity";
import { UserEntity } from "./entities/user.entity";

export const entities = [UserEntity, ApiKeyEntity, GenerationEntity, GenerationAttemptEntity];

export interface DataSourceOptions {
  url: string;
  poolSize: number;
  /** Called with every SQL statement (query counting in tests and benchmarks). */
  onQuery?: (sql: string) => void;
  /** False: every statement unnamed, `prepare` ignored (DATABASE_PREPARED_STATEMENTS). */
  preparedStatements?: boolean;
}

export function createDataSource(opts: DataSourceOptions): DataSource {
  const ds = new DataSource({
    type: "postgres",
    url: opts.url,
    entities,
    migrations,
    migrationsTableName: "migrations",
    synchronize: false,
    installExtensions: false,
    extra: { max: opts.poolSize },
    logging: opts.onQuery ? ["query"] : false,
    logger: opts.onQuery
      ? {
          logQuery: (q: string) => opts.onQuery!(q),
          logQueryError: () => undefined,
          logQuerySlow: () => undefined,
          logSchemaBuild: () => undefined,
          logMigration: () => undefined,
          log: () => undefined,
        }
      : undefined,
  });
  if (opts.preparedStatements === false) withoutPreparedStatements(ds);
  return ds;
}

/** Creates the database named in `url` if it does not exist (connects to the `postgres` db to do so). */
export async function ensureDatabase(url: string): Promise<boolean> {
  const u = new URL(url);
  const name = decodeURIComponent(u.pathname.replace(/^\//, ""));
  const admin = new URL(url);
  admin.pathname = "/postgres";
  const client = new Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const { rowCount } = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
    if (rowCount) return false;
    await client.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
    return true;
  } finally {
    await client.end();
  }
}

/** Names of migrations not yet applied. */
export async function pendingMigrations(ds: DataSource): Promise<string[]> {
  const exists = await ds.query(`SELECT to_regclass('migrations') AS t`);
  const applied = new Set<string>(
    exists[0]?.t ? (await ds.query(`SELECT name FROM migrations`)).map((r: { name: string }) => r.name) : [],
  );
  return migrations.map((m) => new m().name ?? m.name).filter((n) => !applied.has(n));
}
