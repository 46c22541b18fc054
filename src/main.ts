#!/usr/bin/env node
/**
 * The `switchboard` CLI (commander): serve | worker | migrate | users … | keys … | quotas … | analytics …
 * `--help` on every command, `--version`; every error is one line on stderr and a non-zero exit.
 * Human text (the first admin's key) goes to stderr; stdout of `serve`/`worker` is the JSON log stream.
 * One coherent thing: the command tree and the thin calls each command makes (users and keys go
 * through AccountService, as GraphQL does); the work itself lives in the services.
 */
import "reflect-metadata";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { RedisPubSub } from "graphql-redis-subscriptions";
import type { App } from "./app";
import { ConfigError, loadConfig, productionSecretProblems, type AppConfig, type Tier } from "./config/config";
import { readEnv } from "./config/env";
import { UserFacingError } from "./common/errors";
import { ApiKeyService } from "./domain/auth/api-key.service";
import { AccountService } from "./domain/auth/account.service";
import { systemViewer, type Viewer } from "./domain/viewer";
import type { ApiKeyEntity } from "./db/entities/api-key.entity";
import { connectPostgres, connectRedis } from "./infra";
import { EventBus } from "./realtime/event-bus";
import type { DataSource } from "typeorm";

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
  const redis = await connectRedis(config.redis.url, "switchboard-cli", { clusterNodes: config.redis.clusterNodes });
  try {
    return await fn(ds, new EventBus(new RedisPubSub({ publisher: redis, subscriber: redis }), redis, config.redis.prefix));
  } finally {
    redis.disconnect();
    await ds.destroy();
  }
}

/** The CLI acts as the system viewer through the same AccountService as GraphQL. */
const withAdmin = <T>(config: AppConfig, fn: (accounts: AccountService, system: Viewer) => Promise<T>): Promise<T> =>
  withAdminInfra(config, (ds, bus) => fn(new AccountService(new ApiKeyService(ds, bus, 0), 1000), systemViewer("cli")));

async function bootstrapAdmin(app: App, port: number): Promise<void> {
  const n = await app.services.apiKeys.countUsers();
  const base = `http://localhost:${port}`;
  // Human text goes to stderr (the terminal): stdout is the JSON log stream, and a key must never land in a log pipeline.
  if (n > 0) {
    console.error(`Switchboard is running: ${base}/graphql (Apollo Sandbox in a browser)`);
    return;
  }
  const { key } = await app.services.apiKeys.createUser(app.config.bootstrap.adminEmail, "ADMIN", "enterprise");
  console.error(`
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
  const refused = productionSecretProblems(config);
  if (refused.length) throw new ConfigError(refused);
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

/** package.json's version, found by walking up from this file (src/ under ts-node, dist/src/ when built). */
function packageVersion(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const file = path.join(dir, "package.json");
    if (existsSync(file)) return (JSON.parse(readFileSync(file, "utf8")) as { version: string }).version;
    if (path.dirname(dir) === dir) return "unknown";
  }
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const keyId = (v: string): string => {
  if (!UUID_RE.test(v)) throw new InvalidArgumentError("It must be a key id: a UUID, as `keys list` prints it.");
  return v.toLowerCase();
};
const usd = (v: string): number => {
  const n = Number(v);
  if (!/^\d+(\.\d+)?$/.test(v) || !Number.isFinite(n)) throw new InvalidArgumentError("It must be an amount in USD such as 25 or 2.50.");
  return n;
};
const wholeNumber = (v: string): number => {
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError("It must be a whole number.");
  return Number(v);
};
const modelList = (v: string): string[] => v.split(",").map((m) => m.trim()).filter(Boolean);
const describeKey = (k: ApiKeyEntity): string => {
  const limits = [
    k.expiresAt ? `expires ${k.expiresAt.toISOString()}` : null,
    k.budgetMicros != null ? `budget $${k.budgetMicros / 1e6}` : null,
    k.allowedModels ? `models ${k.allowedModels.join(",")}` : null,
    k.rateLimitPerMinute != null ? `${k.rateLimitPerMinute}/min` : null,
  ].filter(Boolean);
  const state = k.revokedAt ? `revoked ${k.revokedAt.toISOString()}` : k.expiresAt && k.expiresAt.getTime() <= Date.now() ? "expired" : "active";
  return `${k.id}  sb_${k.prefix}_…  ${k.label ?? "-"}  created ${k.createdAt.toISOString()}  ${state}${limits.length ? `  (${limits.join("; ")})` : ""}`;
};
const isoTime = (v: string): Date => {
  const d = new Date(v);
  if (!/^\d{4}-\d\d-\d\d/.test(v) || Number.isNaN(d.getTime())) throw new InvalidArgumentError("It must be an ISO date-time such as 2026-11-01T00:00:00Z.");
  return d;
};

/** What the command line asked for: `cmd` (and `sub`) with its parsed options. */
export interface CliAction {
  cmd: string;
  sub?: string;
  opts: Record<string, unknown>;
}

/** Every command and sub-command, depth first. */
function allCommands(c: Command): Command[] {
  return [c, ...c.commands.flatMap(allCommands)];
}
const fullName = (c: Command): string => (c.parent ? `${fullName(c.parent)} ${c.name()}` : c.name());

/** The command tree; `onAction` receives what was asked for. Nothing here touches a database. */
export function buildProgram(onAction: (a: CliAction) => void | Promise<void>): Command {
  const act = (cmd: string, sub?: string) => (opts: Record<string, unknown>) => onAction({ cmd, sub, opts });
  const program = new Command("switchboard")
    .description("GraphQL gateway for AI generation: queued, routed, resilient, budgeted, cached, streamed.")
    .version(packageVersion(), "-v, --version", "print the version")
    .helpOption("-h, --help", "show help for a command")
    .addHelpText("after", "\nConfiguration comes from environment variables; see README.md.");

  program.command("serve")
    .description("HTTP API + WebSocket subscriptions (+ workers unless --no-worker)")
    .option("--no-worker", "do not run BullMQ workers in this process")
    .option("--setup", "create the database if missing, migrate, and create a first admin on an empty database (its key is printed to stderr once)")
    .action(act("serve"));
  program.command("worker")
    .description("BullMQ workers only, with /metrics /healthz /readyz on METRICS_PORT")
    .action(act("worker"));
  program.command("migrate")
    .description("create the database if missing and run pending migrations")
    .action(act("migrate"));

  const users = program.command("users").description("manage users");
  users.command("create")
    .description("create a user; its API key is printed alone on the last line")
    .requiredOption("--email <email>", "the user's email")
    .option("--admin", "make the user an admin")
    .addOption(new Option("--tier <tier>", "rate-limit and budget tier").choices(["free", "pro", "enterprise"]).default("free"))
    .action(act("users", "create"));
  users.command("list").description("list users, oldest first")
    .option("--email-contains <text>", "only users whose email contains this (any case)")
    .action(act("users", "list"));
  users.command("update").description("change a user's tier, or disable it (every key refused on every node at once, its sockets closed) or enable it")
    .requiredOption("--email <email>", "the user's email")
    .addOption(new Option("--tier <tier>", "the new tier").choices(["free", "pro", "enterprise"]))
    .addOption(new Option("--disable", "disable the user").conflicts("enable"))
    .option("--enable", "enable a disabled user")
    .action(act("users", "update"));

  const keys = program.command("keys").description("manage API keys");
  keys.command("create").description("create another key for a user (printed alone on the last line)")
    .requiredOption("--email <email>", "the user's email").option("--label <label>", "a label to tell keys apart")
    .option("--expires <time>", "refuse the key from this ISO date-time on", isoTime)
    .option("--budget <usd>", "the key's own budget per quota period, in USD (on top of the user's)", usd)
    .option("--models <list>", "comma-separated models (ids, aliases or auto) the key may use", modelList)
    .option("--rate-limit <n>", "requests per minute for this key, across nodes", wholeNumber)
    .action(act("keys", "create"));
  keys.command("list").description("list a user's keys (prefix only)")
    .requiredOption("--email <email>", "the user's email")
    .action(act("keys", "list"));
  keys.command("revoke").description("revoke a key on every node at once; its open WebSockets are closed")
    .requiredOption("--id <id>", "the key's id (from keys list)", keyId)
    .action(act("keys", "revoke"));
  keys.command("rotate").description("create a key's replacement (printed alone on the last line) and revoke the old one, at once or after --overlap")
    .requiredOption("--id <id>", "the key's id (from keys list)", keyId)
    .option("--overlap <seconds>", "the old key keeps working this long, then stops on every node (default 0: revoked at once)", wholeNumber)
    .action(act("keys", "rotate"));

  program.command("quotas").description("budget ledgers")
    .command("verify").description("rebuild every budget period from the spend ledger and compare; non-zero exit on a mismatch")
    .action(act("quotas", "verify"));
  program.command("analytics").description("analytics rollups")
    .command("rebuild").description("recompute the hourly analytics rollups in [from, to), e.g. after backfilling or deleting generations")
    .requiredOption("--from <time>", "ISO date-time, inclusive", isoTime)
    .option("--to <time>", "ISO date-time, exclusive (default: now)", isoTime)
    .action(act("analytics", "rebuild"));

  // Every usage error is one line naming its command: "switchboard keys revoke: option '--id <id>' argument 'nope' is invalid. …"
  for (const c of allCommands(program))
    c.configureOutput({ outputError: (str, write) => write(`${fullName(c)}: ${str.trim().replace(/^error: /, "")} (see: ${fullName(c)} --help)\n`) });
  return program;
}

/**
 * Parses a command line without running it (docker-compose.yml is checked against it):
 * the action, `{ cmd: "help" }` for --help/--version, or a UserFacingError naming the problem.
 */
export function parseCli(argv: string[]): CliAction {
  let action: CliAction | undefined;
  let err = "";
  const program = buildProgram((a) => void (action = a));
  for (const c of allCommands(program)) {
    c.exitOverride();
    c.configureOutput({ writeOut: () => undefined, writeErr: (s) => void (err += s) });
  }
  try {
    program.parse(argv, { from: "user" });
  } catch (e) {
    if (e instanceof CommanderError && (e.code === "commander.helpDisplayed" || e.code === "commander.version" || e.code === "commander.help")) return { cmd: "help", opts: {} };
    throw new UserFacingError(err.trim().split("\n")[0] || (e as Error).message);
  }
  return action ?? { cmd: "help", opts: {} };
}

let config: AppConfig | undefined;

async function execute({ cmd, sub, opts: o }: CliAction): Promise<void> {
  config = loadConfig(readEnv());
  const cfg = config;
  const str = (v: unknown) => v as string;
  switch (cmd) {
    case "migrate":
      return migrate(cfg);
    case "serve":
      return serve(cfg, { api: true, worker: o.worker !== false, setup: !!o.setup });
    case "worker":
      return serve(cfg, { api: false, worker: true, setup: false });
    case "users":
      return withAdmin(cfg, async (a, system) => {
        if (sub === "create") {
          const { user, key } = await a.createUser(system, str(o.email), o.admin ? "ADMIN" : "USER", str(o.tier) as Tier);
          console.log(`Created ${user.role} ${user.email} (tier ${user.tier}, id ${user.id}). API key (shown once):`);
          console.log(key);
        } else if (sub === "list") {
          let after: string | undefined;
          do {
            const page = await a.users(system, 1000, after, { emailContains: o.emailContains as string | undefined });
            for (const { node: u } of page.edges)
              console.log(`${u.id}  ${u.email}  ${u.role}  ${u.tier}  created ${u.createdAt.toISOString()}  ${u.disabledAt ? `disabled ${u.disabledAt.toISOString()}` : "active"}`);
            after = page.pageInfo.hasNextPage ? (page.pageInfo.endCursor ?? undefined) : undefined;
          } while (after);
        } else if (sub === "update") {
          const user = await a.userByEmail(system, str(o.email));
          const disabled = o.disable ? true : o.enable ? false : undefined;
          const u = await a.updateUser(system, user.id, { tier: o.tier as Tier | undefined, disabled });
          console.log(`Updated ${u.email}: tier ${u.tier}, ${u.disabledAt ? "disabled (its keys are refused on every node; open sockets closed)" : "active"}.`);
        }
      });
    case "keys":
      return withAdmin(cfg, async (a, system) => {
        if (sub === "create") {
          const user = await a.userByEmail(system, str(o.email));
          const { key, entity } = await a.createKey(system, {
            userId: user.id, label: (o.label as string | undefined) ?? null, expiresAt: o.expires as Date | undefined,
            budgetUsd: o.budget as number | undefined, allowedModels: o.models as string[] | undefined, rateLimitPerMinute: o.rateLimit as number | undefined,
          });
          console.log(`Created key ${entity.id} (prefix ${entity.prefix}) for ${user.email}. API key (shown once):`);
          console.log(key);
        } else if (sub === "list") {
          const user = await a.userByEmail(system, str(o.email));
          for (const key of await a.listKeys(system, user.id)) console.log(describeKey(key));
        } else if (sub === "revoke") {
          const key = await a.revokeKey(system, str(o.id));
          console.log(`Revoked key ${key.id} (sb_${key.prefix}_…). Open sockets using it are closed on every node.`);
        } else if (sub === "rotate") {
          const overlap = (o.overlap as number | undefined) ?? 0;
          const { key, entity, old } = await a.rotateKey(system, str(o.id), overlap);
          const until = overlap ? `keeps working until ${old.expiresAt!.toISOString()}, then stops on every node` : "revoked";
          console.log(`Rotated: old key ${str(o.id)} ${until}; new key ${entity.id} (prefix ${entity.prefix}). API key (shown once):`);
          console.log(key);
        }
      });
    case "quotas": {
      const { QuotaService } = require("./domain/quotas/quota.service") as typeof import("./domain/quotas/quota.service");
      const { systemClock } = require("./common/clock") as typeof import("./common/clock");
      const ok = await withAdminInfra(cfg, async (ds, bus) => {
        const { periods, mismatches } = await new QuotaService(ds, bus, systemClock, cfg.quotas).verify();
        for (const m of mismatches) console.log(`MISMATCH ${JSON.stringify(m)}`);
        console.log(`${periods} budget period(s) checked against the spend ledger: ${mismatches.length ? `${mismatches.length} mismatch(es)` : "all balances match"}.`);
        return mismatches.length === 0;
      });
      if (!ok) throw new UserFacingError("quota balances do not match the spend ledger");
      return;
    }
    case "analytics": {
      const { dirtyLookbackFor, RollupService } = require("./domain/analytics/rollup.service") as typeof import("./domain/analytics/rollup.service");
      const from = o.from as Date;
      const to = (o.to as Date | undefined) ?? new Date();
      if (from >= to) throw new UserFacingError("--from must be before --to");
      const hours = await withAdminInfra(cfg, (ds) => new RollupService(ds, { dirtyLookbackMs: dirtyLookbackFor(cfg.sweeper.maxAgeMs) }).rebuild(from, to));
      console.log(`Recomputed ${hours} rolled-up hour(s) between ${from.toISOString()} and ${to.toISOString()}.`);
      return;
    }
  }
}

/** Parses and runs a command line; commander itself answers --help, --version and usage errors (and exits). */
export async function main(argv: string[]): Promise<void> {
  let running = "switchboard";
  const program = buildProgram((a) => {
    running = ["switchboard", a.cmd, a.sub].filter(Boolean).join(" ");
    return execute(a);
  });
  try {
    await program.parseAsync(argv, { from: "user" });
  } catch (err) {
    throw Object.assign(err as Error, { command: running });
  }
}

const CLI_USER_CODES = new Set(["BAD_USER_INPUT", "NOT_FOUND", "CONFLICT", "FORBIDDEN"]);

/** The process entry (bin/switchboard.js, `node dist/src/main.js`): an error is one line on stderr and exit 1. */
export function run(argv: string[] = process.argv.slice(2)): void {
  main(argv).catch((err: Error & { command?: string }) => {
    // Domain errors with a client-facing code (BAD_USER_INPUT, NOT_FOUND, CONFLICT, …) are the user's mistake too.
    const code = (err as { extensions?: { code?: unknown } }).extensions?.code;
    const known = err instanceof UserFacingError || err instanceof ConfigError || (typeof code === "string" && CLI_USER_CODES.has(code));
    const debug = config?.log.level === "debug" || config?.log.level === "trace";
    // Never a stack trace for a user's mistake; an unexpected error shows its stack only at LOG_LEVEL=debug.
    const text = known ? err.message : debug ? (err.stack ?? err.message) : `${err.name}: ${err.message} (LOG_LEVEL=debug shows the stack)`;
    console.error(`${err.command ?? "switchboard"}: ${text}`);
    process.exit(1);
  });
}

if (require.main === module) run();
