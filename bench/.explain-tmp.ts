import { Client } from "pg";
import { Params, errorsSql, generationsWhere, rollupAggregateSql } from "../src/domain/analytics/analytics-sql";
import { planSources } from "../src/domain/analytics/metrics-range";
async function main() {
  const c = new Client({ connectionString: `postgres://postgres@127.0.0.1:5432/${process.argv[2]}` });
  await c.connect();
  const wm = (await c.query(`SELECT rolled_up_to FROM analytics_rollup_state`)).rows[0].rolled_up_to;
  const now = new Date(); const from = new Date(now.getTime() - 30 * 86400000);
  const plan = planSources(from, now, 48, wm) as any;
  const dims = ["provider", "day", "model"] as any; const sets = [[], ["provider"], ["day"], ["model"]] as any;
  const p = new Params();
  const rw = `hour >= ${p.add(plan.rollup[0])} AND hour < ${p.add(plan.rollup[1])}`;
  const sql = rollupAggregateSql(dims, sets, { table: "analytics_hourly_all", where: rw }, generationsWhere(p, plan.rawEdges, null), false);
  await c.query("SET jit = off"); await c.query("SET work_mem = '32MB'");
  for (let i = 0; i < 2; i++) {
    const r = await c.query("EXPLAIN (ANALYZE, BUFFERS) " + sql, p.values);
    if (i === 1) console.log(r.rows.map((x: any) => x["QUERY PLAN"]).join("\n"));
  }
  const pe = new Params();
  const rwe = `hour >= ${pe.add(plan.rollup[0])} AND hour < ${pe.add(plan.rollup[1])}`;
  const esql = errorsSql(dims, sets, { rollupWhere: rwe, edgesWhere: generationsWhere(pe, plan.rawEdges, null) });
  for (let i = 0; i < 2; i++) {
    const r = await c.query("EXPLAIN (ANALYZE, BUFFERS) " + esql, pe.values);
    if (i === 1) console.log(r.rows.map((x: any) => x["QUERY PLAN"]).join("\n"));
  }
  await c.end();
}
main();
