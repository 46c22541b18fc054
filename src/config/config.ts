/**
 * The typed, frozen application config. Parsed once from the environment by
 * {@link loadConfig}; tests build one with `testConfig`. Each setting — its variable, default,
 * bounds and doc — is written once, in its section's spec under sections/; AppConfig is derived
 * from those specs. This file assembles them and keeps the checks that span several fields.
 */
import { readEnv, type Env } from "./env";
import { ConfigError, Reader } from "./reader";
import { readSpec, type ConfigContext, type ConfigOf } from "./spec";
import { batch } from "./sections/batch";
import { analytics, db } from "./sections/db";
import { cache } from "./sections/cache";
import { limits } from "./sections/limits";
import { moderation } from "./sections/moderation";
import { log, metricsPort, monitoring, tracing } from "./sections/observability";
import { providers } from "./sections/providers";
import { admission, quotas, rateLimits } from "./sections/quotas";
import { redis } from "./sections/redis";
import { resilience } from "./sections/resilience";
import { auth, bootstrap, http, nodeEnv } from "./sections/server";
import { files } from "./sections/storage";
import { sweeper } from "./sections/sweeper";
import { sync } from "./sections/sync";
import { webhooks } from "./sections/webhooks";
import { worker } from "./sections/worker";

export { ConfigError };
export type { Tier } from "./sections/quotas";

/** The whole config spec, one section per concern. */
export const configSpec = {
  /** "production" hides internal errors and disables introspection by default. */
  env: nodeEnv,
  /** The HTTP/WebSocket server of `serve`. */
  http,
  /** /metrics, /healthz, /readyz of the `worker` process. */
  metricsPort,
  /** Postgres. */
  db,
  /** `metrics` queries and hourly rollups. */
  analytics,
  /** Queues, pub/sub and shared state. */
  redis,
  /** API key resolution and unauthenticated traffic. */
  auth,
  /** Request, document and WebSocket limits. */
  limits,
  /** Worker processes: job options, upstream timeouts. */
  worker,
  /** Lost and expired generations. */
  sweeper,
  /** Synchronous requests run in the API process (the fast sync path). */
  sync,
  /** Media storage and signed file URLs. */
  files,
  log,
  /** OpenTelemetry traces. */
  tracing,
  /** Alerts: the monitoring webhook and anomaly checks. */
  monitoring,
  /** Budgets per period and tier. */
  quotas,
  /** createGeneration calls per user by tier, per minute and per hour (0 = unlimited). */
  rateLimits,
  /** Queue admission caps. */
  admission,
  /** Exact and semantic caches. */
  cache,
  /** Providers, their keys and key selection. */
  providers,
  /** Circuit breakers, fairness, per-key rate limits. */
  resilience,
  /** Provider batch APIs: `priority: BATCH`. */
  batch,
  /** Content safety: moderation of inputs and outputs. */
  moderation,
  /** Outgoing webhook deliveries. */
  webhooks,
  /** The admin created on an empty database. */
  bootstrap,
};

/** Every setting, by section. A field's doc, variable, default and bounds are on its spec line (go to definition). */
export type AppConfig = ConfigOf<typeof configSpec>;

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

function deepFreeze<T>(o: T): T {
  if (o && typeof o === "object") {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

/** Parses the environment into a frozen AppConfig, or throws ConfigError listing every problem. */
export function loadConfig(env: Env): AppConfig {
  const r = new Reader(env);
  // What computed defaults depend on (PUBLIC_URL on PORT, introspection and LOG_LEVEL on NODE_ENV);
  // neither has a computed default itself. Both are read again below, a problem is reported once.
  const none: ConfigContext = { nodeEnv: "development", port: 0 };
  const ctx: ConfigContext = { nodeEnv: nodeEnv.read(r, none), port: http.port.read(r, none) };
  const cfg = readSpec(configSpec, r, ctx);
  for (const id of cfg.providers.simulatedExtra)
    if (!/^simulated-[a-z0-9-]+$/.test(id)) r.problem(`SIMULATED_PROVIDERS: "${id}" must look like simulated-<name> (kebab-case)`);
  for (const h of cfg.webhooks.allowedHosts)
    if (!/^(\[?[0-9a-z.:_-]+\]?)(\/\d{1,3})?$/.test(h)) r.problem(`WEBHOOK_ALLOWED_HOSTS entries must be host names, IPs or CIDR ranges (got "${h}")`);
  if (cfg.providers.masterKey !== undefined && cfg.providers.masterKey.length < 32)
    r.problem("SWITCHBOARD_MASTER_KEY must be at least 32 characters (e.g. `openssl rand -hex 32`)");
  if (cfg.monitoring.anomaly.recentWindowMs >= cfg.monitoring.anomaly.baselineWindowMs)
    r.problem("ANOMALY_RECENT_WINDOW_MS must be shorter than ANOMALY_BASELINE_WINDOW_MS (the baseline is the longer window before the recent one)");
  if (cfg.files.store === "s3" && !env.S3_BUCKET && !env.S3_ENDPOINT) {
    r.problem("BLOB_STORE=s3 needs S3_ENDPOINT (or AWS defaults) and S3_BUCKET");
  }
  if (r.problems.length) throw new ConfigError(r.problems);
  return deepFreeze(cfg);
}

/** Published values (old compose defaults, docs, examples): never a production secret. */
const WELL_KNOWN_SECRETS = new Set(["change-me-in-production", "change-me", "changeme", "secret", "switchboard", "switchboard-secret", "password"]);

/**
 * What `serve` and `worker` refuse to start with when NODE_ENV=production: FILES_SIGNING_SECRET
 * and SWITCHBOARD_MASTER_KEY must be set, at least 32 characters, and not a well-known value.
 * (Outside production a missing signing secret is generated and kept in the database.)
 */
export function productionSecretProblems(cfg: AppConfig): string[] {
  if (cfg.env !== "production") return [];
  const secrets = { FILES_SIGNING_SECRET: cfg.files.signingSecret, SWITCHBOARD_MASTER_KEY: cfg.providers.masterKey };
  const missing = Object.entries(secrets).filter(([, v]) => !v).map(([k]) => k);
  const weak = Object.entries(secrets).filter(([, v]) => v && (WELL_KNOWN_SECRETS.has(v.toLowerCase()) || v.length < 32 || new Set(v).size < 8)).map(([k]) => k);
  const how = "a random value of 32+ characters (e.g. `openssl rand -hex 32`), the same on every node";
  const problems: string[] = [];
  if (missing.length) problems.push(`NODE_ENV=production needs ${missing.join(" and ")}: set ${missing.length > 1 ? "each" : "it"} to ${how}`);
  if (weak.length) problems.push(`NODE_ENV=production refuses ${weak.join(" and ")}: well known or too weak; use ${how}`);
  return problems;
}

function merge<T>(base: T, over: DeepPartial<T> | undefined): T {
  if (!over) return base;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = v && typeof v === "object" && !Array.isArray(v) && b && typeof b === "object" ? merge(b, v as never) : v;
  }
  return out as T;
}

/** A config for tests: defaults with test-friendly values, then `overrides`. */
export function testConfig(overrides?: DeepPartial<AppConfig>): AppConfig {
  const base = loadConfig({ NODE_ENV: "test", LOG_LEVEL: readEnv().LOG_LEVEL ?? "silent" });
  return deepFreeze(merge(structuredClone(base) as AppConfig, overrides));
}
