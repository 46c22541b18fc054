/**
 * The bench servers' stand-in for autovacuum's ANALYZE. This machine's Postgres (and CI's) runs
 * with `autovacuum = off`, so a bench database created empty keeps "empty table" statistics
 * however many rows a run writes. The prepared statements' generic plans, made then, go on
 * scanning `generations` and `generation_attempts` whole (seen: 33 M tuples read over 19 k
 * generations, Postgres CPU per generation growing through a run), which no deployment with
 * autovacuum on (Postgres's default) sees: its ANALYZE refreshes the statistics and the plans.
 * A cell calls this before it starts measuring.
 */
import type { DataSource } from "typeorm";

/** ANALYZE when autovacuum is off (a no-op otherwise); returns whether it ran. */
export async function analyzeIfNoAutovacuum(ds: DataSource): Promise<boolean> {
  const [{ on }] = (await ds.query(`SELECT current_setting('autovacuum') = 'on' AS on`)) as { on: boolean }[];
  if (on) return false;
  await ds.query("ANALYZE");
  return true;
}
