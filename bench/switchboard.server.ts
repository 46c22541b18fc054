/**
 * Child process: the real Switchboard (`serve` with in-process workers) on a fresh
 * database, counting SQL statements and sampling RSS; reports over IPC.
 * Scale-out: BENCH_ROLE=api (no workers) or worker (no API), and BENCH_JOIN_DB_URL +
 * BENCH_JOIN_PREFIX join the database and Redis prefix of a process started first (which
 * created them, and the bench user, and drops them at its stop).
 */
import { createApp } from "../src/app";
import { testConfig } from "../src/config/config";
import { createTestDatabase, dropRedisPrefix, uniquePrefix } from "../test/helpers/infra";
import { analyzeIfNoAutovacuum } from "./planner-stats";

async function main() {
  const role = process.env.BENCH_ROLE ?? "both";
  const joinUrl = process.env.BENCH_JOIN_DB_URL;
  const db = joinUrl ? { url: joinUrl, drop: async () => undefined } : await createTestDatabase();
  const prefix = process.env.BENCH_JOIN_PREFIX ?? uniquePrefix();
  let sql = 0;
  let peakRss = 0;
  const sample = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);
  const config = testConfig({
    http: { port: 0, host: "127.0.0.1" },
    db: { url: db.url, poolSize: Number(process.env.BENCH_POOL ?? 10) },
    redis: { url: "redis://127.0.0.1:6379", prefix },
    worker: { concurrency: Number(process.env.BENCH_WORKER_CONCURRENCY ?? 32) },
    // One bench user: USER_MAX_IN_FLIGHT (fairness cap) applies to all of its load; BENCH_USER_MAX_IN_FLIGHT overrides it.
    ...(process.env.BENCH_USER_MAX_IN_FLIGHT ? { resilience: { userMaxInFlight: Number(process.env.BENCH_USER_MAX_IN_FLIGHT) } } : {}),
    // The fast sync path (createGeneration(wait) in-process): BENCH_SYNC_IN_PROCESS=1 turns it on, 0 off (unset: SYNC_IN_PROCESS's default);
    // BENCH_ASYNC_IN_PROCESS=1 sends async requests (no wait) down it too (ASYNC_IN_PROCESS).
    sync: {
      ...(process.env.BENCH_SYNC_IN_PROCESS ? { inProcess: process.env.BENCH_SYNC_IN_PROCESS === "1" } : {}),
      ...(process.env.BENCH_ASYNC_IN_PROCESS === "1" ? { async: true } : {}),
    },
    log: { level: "warn" },
  });
  const app = await createApp(config, { api: role !== "worker", workers: role !== "api", onQuery: () => sql++ });
  const port = await app.start();
  const created = joinUrl ? undefined : await app.services.apiKeys.createUser("bench@local", "USER", "enterprise");
  process.on("message", async (m: { cmd: string }) => {
    if (m.cmd === "reset") {
      await analyzeIfNoAutovacuum(app.ds); // as autovacuum would (planner-stats.ts)
      sql = 0;
      peakRss = process.memoryUsage().rss;
      process.send!({ ok: true });
    } else if (m.cmd === "stats") {
      const cpu = process.cpuUsage();
      process.send!({ sql, peakRss, cpuMs: (cpu.user + cpu.system) / 1000 });
    } else if (m.cmd === "stop") {
      clearInterval(sample);
      await app.stop();
      if (!joinUrl) {
        await db.drop();
        await dropRedisPrefix(prefix);
      }
      process.exit(0);
    }
  });
  process.send!({ port, key: created?.key, userId: created?.user.id, prefix, dbUrl: db.url });
}
void main();
