/**
 * Child process: the real Switchboard (`serve` with in-process workers) on a fresh
 * database, counting SQL statements and sampling RSS; reports over IPC.
 */
import { createApp } from "../src/app";
import { testConfig } from "../src/config/config";
import { createTestDatabase, dropRedisPrefix, uniquePrefix } from "../test/helpers/infra";

async function main() {
  const db = await createTestDatabase();
  const prefix = uniquePrefix();
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
    // The fast sync path (createGeneration(wait) in-process): BENCH_SYNC_IN_PROCESS=1 turns it on, 0 off (unset: SYNC_IN_PROCESS's default).
    ...(process.env.BENCH_SYNC_IN_PROCESS ? { sync: { inProcess: process.env.BENCH_SYNC_IN_PROCESS === "1" } } : {}),
    log: { level: "warn" },
  });
  const app = await createApp(config, { api: true, workers: true, onQuery: () => sql++ });
  const port = await app.start();
  const { key, user } = await app.services.apiKeys.createUser("bench@local", "USER", "enterprise");
  process.on("message", async (m: { cmd: string }) => {
    if (m.cmd === "reset") {
      sql = 0;
      peakRss = process.memoryUsage().rss;
      process.send!({ ok: true });
    } else if (m.cmd === "stats") {
      process.send!({ sql, peakRss });
    } else if (m.cmd === "stop") {
      clearInterval(sample);
      await app.stop();
      await db.drop();
      await dropRedisPrefix(prefix);
      process.exit(0);
    }
  });
  process.send!({ port, key, userId: user.id, prefix });
}
void main();
