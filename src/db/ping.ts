import type { DataSource } from "typeorm";

/** Readiness: resolves when Postgres answers a trivial statement. */
export async function pingPostgres(ds: DataSource): Promise<void> {
  await ds.query("SELECT 1");
}
