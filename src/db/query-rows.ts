import { createHash } from "node:crypto";
import type { PoolClient, QueryResult } from "pg";
import { QueryFailedError, QueryRunnerAlreadyReleasedError, type DataSource, type EntityManager, type QueryRunner } from "typeorm";

export type Row = Record<string, unknown>;

export interface QueryOptions {
  /**
   * Run it as a named prepared statement: Postgres parses it once per connection and, after a few
   * runs, plans it once (its generic plan), instead of parsing and planning it on every call (for
   * the runner's and admission's multi-CTE statements that was most of their time: about 2 ms of
   * parse and plan for the success statement alone). For statements whose text is fixed; at most
   * {@link MAX_PREPARED} texts per process are prepared, any later one runs unnamed.
   */
  prepare?: boolean;
}

/** Distinct statement texts a process prepares (each is prepared once on each pooled connection). */
export const MAX_PREPARED = 64;
const prepared = new Map<string, string>(); // text → statement name
/** DataSources that prepare nothing (DATABASE_PREPARED_STATEMENTS=false: a pooler in transaction mode). */
const unpreparedSources = new WeakSet<DataSource>();

/** Every statement on `ds` runs unnamed, whatever its callers ask. */
export function withoutPreparedStatements(ds: DataSource): void {
  unpreparedSources.add(ds);
}

/** Texts whose prepared form Postgres refused (a cached plan whose result type changed: a migration added a column). */
const unpreparable = new Set<string>();

function statementName(sql: string): string | undefined {
  if (unpreparable.has(sql)) return undefined;
  let name = prepared.get(sql);
  if (!name && prepared.size < MAX_PREPARED) prepared.set(sql, (name = `sb_${createHash("sha1").update(sql).digest("hex").slice(0, 20)}`));
  return name;
}

/**
 * The rows one raw statement returns, read one way. `DataSource.query` shapes its answer by
 * the statement's command — a bare `UPDATE … RETURNING` or `DELETE` comes back as
 * `[rows, count]`, anything else (SELECT, INSERT, `WITH … SELECT`) as `rows` — so callers
 * used to read it three ways; the query runner's structured result always has them in
 * `records`. `on` is the DataSource, or a transaction's EntityManager to run inside it.
 * Same connection handling as `DataSource.query` (a runner taken and released per statement).
 */
export async function queryRows<T = Row>(on: DataSource | EntityManager, sql: string, params: unknown[] = [], opts: QueryOptions = {}): Promise<T[]> {
  const inTx = "manager" in on ? undefined : on.queryRunner;
  const runner = inTx ?? ("manager" in on ? on : on.dataSource).createQueryRunner();
  try {
    const name = opts.prepare && !unpreparedSources.has(runner.connection) ? statementName(sql) : undefined;
    if (name) return (await preparedQuery(runner, name, sql, params, !inTx)).rows as T[];
    const res = await runner.query(sql, params, true);
    return (res.records ?? []) as T[];
  } finally {
    if (!inTx) await runner.release();
  }
}

/**
 * A named statement on the runner's own connection (TypeORM's `query` sends every statement
 * unnamed), logged and failing as TypeORM's would (its logger sees it; errors are its
 * QueryFailedError, with the SQLSTATE). `retryable`: outside a transaction a statement whose
 * prepared form Postgres refuses runs again unnamed; inside one the transaction is aborted, so the
 * error goes to the caller (whose batch re-runs its members, now unnamed).
 */
async function preparedQuery(runner: QueryRunner, name: string, sql: string, params: unknown[], retryable: boolean): Promise<QueryResult> {
  // A released runner still holds its (pooled, maybe re-lent) connection: refuse, as TypeORM's query does.
  if (runner.isReleased) throw new QueryRunnerAlreadyReleasedError();
  const client = (await runner.connect()) as PoolClient;
  runner.connection.logger.logQuery(sql, params, runner);
  try {
    return await client.query({ name, text: sql, values: params });
  } catch (err) {
    if ((err as { code?: string }).code === "0A000") {
      // "cached plan must not change result type": the table changed under the prepared statement.
      unpreparable.add(sql);
      if (retryable) return client.query({ text: sql, values: params }).catch((e: Error) => Promise.reject(new QueryFailedError(sql, params, e)));
    }
    throw new QueryFailedError(sql, params, err as Error);
  }
}
