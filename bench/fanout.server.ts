/**
 * Child process for `npm run bench:fanout`: one Switchboard API node (no workers) on a fresh
 * database (from dist/ with BENCH_FANOUT_DIST=1), with BENCH_FANOUT_USERS users (enterprise tier), each with one API key. Reports
 * { port, prefix, users: [{ id, key }] } over IPC, then answers fanout-child.ts's commands.
 */
// BENCH_FANOUT_DIST=1: the app from `tsc -p tsconfig.build.json` output (dist/), as production runs it; else from src via ts-node.
const fromDist = process.env.BENCH_FANOUT_DIST === "1";
const { createApp }: typeof import("../src/app") = require(fromDist ? "../dist/src/app" : "../src/app");
const { testConfig }: typeof import("../src/config/config") = require(fromDist ? "../dist/src/config/config" : "../src/config/config");
import { createTestDatabase, dropRedisPrefix } from "../test/helpers/infra";
import { serveFanoutStats } from "./fanout-child";

async function main() {
  const db = await createTestDatabase();
  const prefix = process.env.BENCH_FANOUT_PREFIX!;
  const n = Number(process.env.BENCH_FANOUT_USERS ?? 1000);
  const config = testConfig({
    http: { port: 0, host: "127.0.0.1" },
    db: { url: db.url, poolSize: 10 },
    redis: { url: "redis://127.0.0.1:6379", prefix },
    log: { level: "warn" },
  });
  const app = await createApp(config, { api: true, workers: false });
  const port = await app.start();
  const users: { id: string; key: string }[] = [];
  for (let i = 0; i < n; i++) {
    const { key, user } = await app.services.apiKeys.createUser(`fanout-${i}@bench.local`, "USER", "enterprise");
    users.push({ id: user.id, key });
  }
  serveFanoutStats(async () => {
    await app.stop();
    await db.drop();
    await dropRedisPrefix(prefix);
  });
  process.send!({ port, prefix, users, runtime: fromDist ? "dist" : "ts-node" });
}
void main();
