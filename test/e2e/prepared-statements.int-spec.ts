/**
 * db/query-rows.ts's prepared statements on the real Postgres: the hot statements are named (parsed
 * once per connection), seen by the query logger, failing with TypeORM's QueryFailedError and its
 * SQLSTATE as unnamed ones do, surviving a table change under them, and bounded in number.
 */
import { QueryFailedError, type DataSource } from "typeorm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDataSource } from "../../src/db/data-source";
import { MAX_PREPARED, queryRows } from "../../src/db/query-rows";
import { createTestDatabase, type TestDatabase } from "../helpers/infra";

describe("prepared statements (queryRows { prepare: true })", () => {
  let db: TestDatabase;
  let ds: DataSource;
  const logged: string[] = [];
  // One connection: every statement below runs on it, so pg_prepared_statements shows what it holds.
  const held = async () => (await ds.query(`SELECT name, statement FROM pg_prepared_statements`)) as { name: string; statement: string }[];

  beforeAll(async () => {
    db = await createTestDatabase({ migrate: false });
    ds = createDataSource({ url: db.url, poolSize: 1, onQuery: (q) => logged.push(q) });
    await ds.initialize();
    await ds.query(`CREATE TABLE t (id int PRIMARY KEY, v text)`);
  });
  afterAll(async () => {
    await ds?.destroy();
    await db?.drop();
  });

  it("a prepared statement is named on its connection and reused; an unprepared one is not kept; both are logged", async () => {
    const sql = `INSERT INTO t (id, v) VALUES ($1, $2) RETURNING id, v`;
    expect(await queryRows(ds, sql, [1, "a"], { prepare: true })).toEqual([{ id: 1, v: "a" }]);
    expect(await queryRows(ds, sql, [2, "b"], { prepare: true })).toEqual([{ id: 2, v: "b" }]);
    await queryRows(ds, `SELECT count(*)::int AS n FROM t`);
    const names = (await held()).filter((p) => p.statement === sql);
    expect(names).toHaveLength(1);
    expect(names[0].name).toMatch(/^sb_[0-9a-f]{20}$/);
    expect((await held()).some((p) => p.statement.includes("count(*)"))).toBe(false);
    expect(logged.filter((q) => q === sql)).toHaveLength(2); // query counting (tests, benchmarks) sees prepared ones too
  });

  it("fails as TypeORM's query does: a QueryFailedError carrying the SQLSTATE (batch isolation and retries read it)", async () => {
    const err = await queryRows(ds, `INSERT INTO t (id, v) VALUES ($1, $2) RETURNING id`, [1, "dup"], { prepare: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QueryFailedError);
    expect((err as { code?: string }).code).toBe("23505");
  });

  it("inside a transaction it runs on the transaction's connection (rolled back with it)", async () => {
    await ds.transaction(async (tx) => {
      await queryRows(tx, `INSERT INTO t (id, v) VALUES ($1, $2) RETURNING id, v`, [10, "tx"], { prepare: true });
      expect(await queryRows(tx, `SELECT v FROM t WHERE id = $1`, [10], { prepare: true })).toEqual([{ v: "tx" }]);
      await tx.query(`SELECT 1`);
    }).then(() => undefined);
    expect(await queryRows(ds, `SELECT v FROM t WHERE id = $1`, [10], { prepare: true })).toEqual([{ v: "tx" }]);
    await expect(
      ds.transaction(async (tx) => {
        await queryRows(tx, `INSERT INTO t (id, v) VALUES ($1, $2) RETURNING id, v`, [11, "gone"], { prepare: true });
        throw new Error("roll back");
      }),
    ).rejects.toThrow("roll back");
    expect(await queryRows(ds, `SELECT v FROM t WHERE id = $1`, [11], { prepare: true })).toEqual([]);
  });

  it("a table changed under a prepared statement (a migration added a column): it runs again unnamed, in a transaction the caller sees the error once", async () => {
    const star = `SELECT * FROM t WHERE id = $1`;
    const star2 = `SELECT * FROM t WHERE id = $1 AND true`;
    expect(await queryRows(ds, star, [1], { prepare: true })).toEqual([{ id: 1, v: "a" }]);
    expect(await queryRows(ds, star2, [1], { prepare: true })).toEqual([{ id: 1, v: "a" }]);
    await ds.query(`ALTER TABLE t ADD COLUMN w int NOT NULL DEFAULT 7`);
    // Outside a transaction: answered, with the new column.
    expect(await queryRows(ds, star, [1], { prepare: true })).toEqual([{ id: 1, v: "a", w: 7 }]);
    expect(await queryRows(ds, star, [2], { prepare: true })).toEqual([{ id: 2, v: "b", w: 7 }]);
    // Inside one the transaction is aborted by the error: it reaches the caller, whose next try runs unnamed.
    const err = await ds.transaction((tx) => queryRows(tx, star2, [1], { prepare: true })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QueryFailedError);
    expect((err as { code?: string }).code).toBe("0A000");
    expect(await ds.transaction((tx) => queryRows(tx, star2, [1], { prepare: true }))).toEqual([{ id: 1, v: "a", w: 7 }]);
  });

  it("DATABASE_PREPARED_STATEMENTS=false (a pooler in transaction mode): nothing is prepared, whatever the caller asks", async () => {
    const plain = createDataSource({ url: db.url, poolSize: 1, preparedStatements: false });
    await plain.initialize();
    try {
      expect(await queryRows(plain, `SELECT v FROM t WHERE id = $1 AND 1 = 1`, [1], { prepare: true })).toEqual([{ v: "a" }]);
      expect(await plain.query(`SELECT count(*)::int AS n FROM pg_prepared_statements`)).toEqual([{ n: 0 }]);
    } finally {
      await plain.destroy();
    }
  });

  it(`at most ${MAX_PREPARED} texts are prepared per process; later ones run unnamed and still answer`, async () => {
    for (let i = 0; i < MAX_PREPARED + 10; i++) expect(await queryRows(ds, `SELECT ${i}::int AS n`, [], { prepare: true })).toEqual([{ n: i }]);
    const names = (await held()).filter((p) => p.name.startsWith("sb_"));
    expect(names.length).toBe(MAX_PREPARED);
    expect(names.some((p) => p.statement === `SELECT ${MAX_PREPARED + 9}::int AS n`)).toBe(false);
  });
});
