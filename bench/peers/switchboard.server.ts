/**
 * Child process of `npm run bench:peers`: the real Switchboard (`serve` with in-process workers,
 * as one process is the whole product on a laptop) on its own Postgres database and Redis
 * prefix, with the `openai` provider pointed at the mock upstream (what OPENAI_BASE_URL and
 * OPENAI_API_KEY configure). Auth, rate limit, routing, breakers, key pool, budget reservation and
 * settlement are all on the path; the enterprise rate limit is raised so it is checked but never
 * binds, and the fairness cap keeps its default. Reports its port and a user's key over IPC;
 * answers `stats` (generations by status since the last `reset`, once none is in flight, and the
 * CPU time this process spent meanwhile) and `stop` (drops its database
 * and Redis keys).
 */
import { createApp } from "../../src/app";
import { testConfig } from "../../src/config/config";
import { createTestDatabase, dropRedisPrefix, uniquePrefix } from "../../test/helpers/infra";
import { analyzeIfNoAutovacuum } from "../planner-stats";

async function main() {
  const db = await createTestDatabase();
  const prefix = uniquePrefix();
  const config = testConfig({
    http: { port: 0, host: "127.0.0.1" },
    db: { url: db.url, poolSize: 10 },
    redis: { url: "redis://127.0.0.1:6379", prefix },
    worker: { concurrency: 32 },
    providers: {
      vendors: { openai: { baseUrl: `${process.env.BENCH_PEERS_UPSTREAM}/v1`, keys: [{ label: "env-1", key: "sk-bench-peers-0000000000000001" }] } },
      healthIntervalMs: 0,
    },
    rateLimits: { enterprise: { perMinute: 100_000_000, perHour: 1_000_000_000 } },
    log: { level: "warn" },
    // BENCH_PEERS_SYNC_IN_PROCESS=0: every request through the queue (the fast sync path off), to compare.
    ...(process.env.BENCH_PEERS_SYNC_IN_PROCESS === "0" ? { sync: { inProcess: false } } : {}),
  });
  const app = await createApp(config, { api: true, workers: true });
  const port = await app.start();
  const { key } = await app.services.apiKeys.createUser("bench-peers@local", "USER", "enterprise");
  let since = new Date();
  let cpu = process.cpuUsage();
  process.on("message", async (m: { cmd: string }) => {
    if (m.cmd === "reset") {
      await analyzeIfNoAutovacuum(app.ds); // as autovacuum would (bench/planner-stats.ts)
      since = new Date();
      cpu = process.cpuUsage();
      process.send!({ ok: true });
    } else if (m.cmd === "stats") {
      // A cell's last requests may still be in flight when its clock stops: let them end first,
      // so the next cell starts on an idle server and these counts are final. One empty look is not
      // enough: a request whose client left while it waited its turn in this process is admitted
      // after it (its row appears RUNNING later), so the server counts as idle after three in a row.
      for (let i = 0, empty = 0; i < 300 && empty < 3; i++) {
        const [{ n }] = (await app.ds.query(`SELECT count(*)::int AS n FROM generations WHERE status IN ('QUEUED', 'RUNNING')`)) as { n: number }[];
        empty = n === 0 ? empty + 1 : 0;
        await new Promise((r) => setTimeout(r, 100));
      }
      const rows = (await app.ds.query(`SELECT status, count(*)::int AS n FROM generations WHERE created_at >= $1 GROUP BY status`, [since])) as { status: string; n: number }[];
      const used = process.cpuUsage(cpu);
      process.send!({ generations: Object.fromEntries(rows.map((r) => [r.status, r.n])), cpuMs: (used.user + used.system) / 1000 });
    } else if (m.cmd === "stop") {
      await app.stop();
      await db.drop();
      await dropRedisPrefix(prefix);
      process.exit(0);
    }
  });
  process.send!({ port, key });
}
void main().catch((e) => {
  console.error(e);
  process.exit(1);
});
