import type { DataSource, EntityManager } from "typeorm";

export type Row = Record<string, unknown>;

/**
 * The rows one raw statement returns, read one way. `DataSource.query` shapes its answer by
 * the statement's command — a bare `UPDATE … RETURNING` or `DELETE` comes back as
 * `[rows, count]`, anything else (SELECT, INSERT, `WITH … SELECT`) as `rows` — so callers
 * used to read it three ways; the query runner's structured result always has them in
 * `records`. `on` is the DataSource, or a transaction's EntityManager to run inside it.
 * Same connection handling as `DataSource.query` (a runner taken and released per statement).
 */
export async function queryRows<T = Row>(on: DataSource | EntityManager, sql: string, params: unknown[] = []): Promise<T[]> {
  const inTx = "manager" in on ? undefined : on.queryRunner;
  const runner = inTx ?? ("manager" in on ? on : on.dataSource).createQueryRunner();
  try {
    const res = await runner.query(sql, params, true);
    return (res.records ?? []) as T[];
  } finally {
    if (!inTx) await runner.release();
  }
}
