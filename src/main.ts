#!/usr/bin/env node
/**
 * The `switchboard` CLI: serve | worker | migrate | users … | keys …
 * Errors print one clear line and exit non-zero.
 */
import "reflect-metadata";
import { parseArgs } from "node:util";
import { RedisPubSub } from "graphql-redis-subscriptions";
import type { App } from "./app";
import { ConfigError, loadConfig, type AppConfig, type Tier } from "./config/config";
import { readEnv } from "./config/env";
import { UserFacingError } from "./common/errors";
import { ApiKeyService } from "./domain/auth/api-key.service";
import { connectPostgres, connectRedis } from "./infra";
import { EventBus } from "./realtime/event-bus";
import type { DataSource } from "typeorm";

const USAGE = `Usage: switchboard <command>

  serve [--no-worker] [--setup]   HTTP API + WebSocket subscriptions (+ workers unless --no-worker).
                                  --setup: create the database if missing, migrate, create a first admin.
  worker                          BullMQ workers only, with /metrics /healthz /readyz on METRICS_PORT.
  migrate                         Create the database if missing and run pending migrations.
  users create --email E [--admin] [--tier free|pro|enterprise]
  keys create --email E [--label L]
  keys list --email E
  keys revoke --id ID
  keys rotate --id ID
  quotas verify                   Rebuild every budget period from the spend ledger and compare.
  analytics rebuild --from T [--to T]
                                  Recompute the hourly analytics rollups in [from, to) (ISO times; to: now),
                                  e.g. after backfilling or deleting generations.

Configuration comes from environment variables; see README.md.`;

async function migrate(config: AppConfig, quiet = false): Promise<void> {
  const ds = await connectPostgres({ url: config.db.url, poolSize: 2, create: true });
  try {
    const ran = await ds.runMigrations({ transaction: "each" });
    if (!quiet) console.log(ran.length ? `Applied ${ran.length} migration(s): ${ran.map((m) => m.name).join(", ")}` : "Database is up to date.");
  } finally {
    await ds.destroy();
  }
}

/** Postgres and Redis for one-shot admin commands (keys revoke needs Redis to reach every node). */
async function withAdminInfra<T>(config: AppConfig, fn: (ds: DataSource, bus: EventBus) => Promise<T>): Promise<T> {
  const ds = await connectPostgres({ url: config.db.url, poolSize: 2, create: false });
  const redis = await connectRedis(config.redis.url, "switchboard-cli");
  try {
    return await fn(ds, new EventBus(new RedisPubSub({ publisher: redis, subscriber: redis }), redis, config.redis.prefix));
  } finally {
    redis.disconnect();
    await ds.destroy();
  }
}

const withAdmin = <T>(config: AppConfig, fn: (keys: ApiKeyService) => Promise<T>): Promise<T> =>
  withAdminInfra(config, (ds, bus) => fn(new ApiKeyService(ds, bus, 0)));

async function bootstrapAdmin(app: App, port: number): Promise<void> {
  const [{ n }] = await app.ds.query(`SELECT count(*)::int AS n FROM users`);
  const base = `http://localhost:${port}`;
  if (n > 0) {
    console.log(`Switchboard is running: ${base}/graphql (Apollo Sandbox in a browser)`);
    return;
  }
  const { key } = await app.services.apiKeys.createUser(app.config.bootstrap.adminEmail, "ADMIN", "enterprise");
  console.log(`
Switchboard is running.

  GraphQL + Apollo Sandbox:  ${base}/graphql
  WebSocket subscriptions:   ${base.replace("http", "ws")}/graphql
  Metrics / health:          ${base}/metrics  ${base}/healthz  ${base}/readyz

A first admin (${app.config.bootstrap.adminEmail}) was created. Its API key is shown only this once:

  ${key}

Try it:

  curl -s ${base}/graphql -H 'content-type: application/json' -H 'authorization: Bearer ${key}' \\
    -d '{"query":"mutation { createGeneration(input: {modality: TEXT, model: \\"simulated/text\\", prompt: \\"Hello!\\", wait: 10}) { id status output { text } } }"}'
`);
}

async function serve(config: AppConfig, flags: { worker: boolean; setup: boolean; api: boolean }): Promise<void> {
  if (flags.setup) await migrate(config, true);
  // Loaded lazily: admin commands start without the GraphQL schema and the workers.
  const { createApp } = require("./app") as typeof import("./app");
  const app = await createApp(config, { api: flags.api, workers: flags.worker, metricsServer: !flags.api, createDatabase: flags.setup });
  const port = await app.start();
  app.log.info({ port, workers: flags.worker, api: flags.api }, "switchboard started");
  if (flags.setup && port !== undefined) await bootstrapAdmin(app, port);
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.log.info({ signal }, "shutting down");
    await app.stop();
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
}

const OPTIONS = {
  email: { type: "string" }, admin: { type: "boolean" }, tier: { type: "string" }, id: { type: "string" },
  label: { type: "string" }, "no-worker": { type: "boolean" }, setup: { type: "boolean" }, from: { type: "string" }, to: { type: "string" },
} as const;

/** The commands and sub-commands this CLI accepts (docker-compose.yml is checked against it). */
export const COMMANDS: Record<string, readonly string[] | null> = {
  serve: null, worker: null, migrate: null, users: ["create"], keys: ["create", "list", "revoke", "rotate"], quotas: ["verify"], analytics: ["rebuild"], help: null,
};

/** Parses a command line without running it; throws UserFacingError for anything unknown. */
export function parseCli(argv: string[]) {
  const [cmd, ...args] = argv;
  if (cmd === undefined || cmd === "--help") return { cmd: "help", sub: undefined, values: {} as Record<string, string | boolean | undefined> };
  if (!(cmd in COMMANDS)) throw new UserFacingError(`unknown command "${cmd}"\n\n${USAGE}`);
  const subs = COMMANDS[cmd];
  const sub = subs ? args.shift() : undefined;
  if (subs && (!sub || !subs.includes(sub))) throw new UserFacingError(`${cmd} needs one of: ${subs.join(", ")}\n\n${USAGE}`);
  try {
    return { cmd, sub, values: parseArgs({ args, options: OPTIONS, strict: true }).values as Record<string, string | boolean | undefined> };
  } catch (err) {
    throw new UserFacingError(`${(err as Error).message}\n\n${USAGE}`);
  }
}

export async function main(argv: string[]): Promise<void> {
  const { cmd, sub, values: o } = parseCli(argv);
  const config = loadConfig(readEnv());
  const need = (v: string | boolean | undefined, flag: string): string => {
    if (typeof v !== "string" || !v) throw new UserFacingError(`missing --${flag}\n\n${USAGE}`);
    return v;
  };
  switch (cmd) {
    case "migrate":
      return migrate(config);
    case "serve":
      return serve(config, { api: true, worker: !o["no-worker"], setup: !!o.setup });
    case "worker":
      return serve(config, { api: false, worker: true, setup: false });
    case "users": {
      const { user, key } = await withAdmin(config, (k) => k.createUser(need(o.email, "email"), o.admin ? "ADMIN" : "USER", ((o.tier as string | undefined) ?? "free") as Tier));
      console.log(`Created ${user.role} ${user.email} (tier ${user.tier}, id ${user.id}). API key (shown once):`);
      console.log(key);
      return;
    }
    case "keys": {
      await withAdmin(config, async (k) => {
        if (sub === "create") {
          const user = await k.userByEmail(need(o.email, "email"));
          const { key, entity } = await k.createKey(user.id, (o.label as string | undefined) ?? null);
          console.log(`Created key ${entity.id} (prefix ${entity.prefix}) for ${user.email}. API key (shown once):`);
          console.log(key);
        } else if (sub === "list") {
          const user = await k.userByEmail(need(o.email, "email"));
          for (const key of await k.listKeys(user.id))
            console.log(`${key.id}  sb_${key.prefix}_…  ${key.label ?? "-"}  created ${key.createdAt.toISOString()}  ${key.revokedAt ? `revoked ${key.revokedAt.toISOString()}` : "active"}`);
        } else if (sub === "revoke") {
          const key = await k.revoke(need(o.id, "id"));
          console.log(`Revoked key ${key.id} (sb_${key.prefix}_…). Open sockets using it are closed on every node.`);
        } else if (sub === "rotate") {
          const { key, entity } = await k.rotate(need(o.id, "id"));
          console.log(`Rotated: old key ${String(o.id)} revoked; new key ${entity.id} (prefix ${entity.prefix}). API key (shown once):`);
          console.log(key);
        }
      });
      return;
    }
    case "quotas": {
      const { QuotaService } = require("./domain/quotas/quota.service") as typeof import("./domain/quotas/quota.service");
      const { systemClock } = require("./common/clock") as typeof import("./common/clock");
      const ok = await withAdminInfra(config, async (ds, bus) => {
        const { periods, mismatches } = await new QuotaService(ds, bus, systemClock, config.quotas).verify();
        for (const m of mismatches) console.log(`MISMATCH ${JSON.stringify(m)}`);
        console.log(`${periods} budget period(s) checked against the spend ledger: ${mismatches.length ? `${mismatches.length} mismatch(es)` : "all balances match"}.`);
        return mismatches.length === 0;
      });
      if (!ok) throw new UserFacingError("quota balances do not match the spend ledger");
      return;
    }
    case "analytics": {
      const { RollupService } = require("./domain/analytics/rollup.service") as typeof import("./domain/analytics/rollup.service");
      const at = (v: string | boolean | undefined, flag: string): Date => {
        const d = new Date(need(v, flag));
        if (Number.isNaN(d.getTime())) throw new UserFacingError(`--${flag} must be an ISO date-time such as 2026-11-01T00:00:00Z`);
        return d;
      };
      const from = at(o.from, "from");
      const to = o.to ? at(o.to, "to") : new Date();
      if (from >= to) throw new UserFacingError("--from must be before --to");
      const hours = await withAdminInfra(config, (ds) => new RollupService(ds, { dirtyLookbackMs: config.sweeper.maxAgeMs + 3_600_000 }).rebuild(from, to));
      console.log(`Recomputed ${hours} rolled-up hour(s) between ${from.toISOString()} and ${to.toISOString()}.`);
      return;
    }
    default:
      console.log(USAGE);
      return;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err: Error) => {
    const known = err instanceof UserFacingError || err instanceof ConfigError;
    console.error(`switchboard: ${known ? err.message : (err.stack ?? err.message)}`);
    process.exit(1);
  });
}
