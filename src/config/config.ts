/**
 * The typed, frozen application config. Parsed once from the environment by
 * {@link loadConfig}; every field documents its default. Tests build one with `testConfig`.
 */
import { readEnv, type Env } from "./env";

export type Tier = "free" | "pro" | "enterprise";

export interface AppConfig {
  /** NODE_ENV; "production" hides internal errors and disables introspection by default. */
  env: "development" | "production" | "test";
  http: {
    /** PORT, default 4000. */
    port: number;
    /** HOST, default "0.0.0.0". */
    host: string;
    /** PUBLIC_URL: base for file URLs handed to clients, default http://localhost:<port>. */
    publicUrl: string;
    /** CORS_ORIGINS: comma-separated origins, "*" for any (default "*"). */
    corsOrigins: string[] | "*";
    /** BODY_LIMIT_BYTES: maximum request body, default 1 MiB. */
    bodyLimitBytes: number;
    /** GRAPHQL_INTROSPECTION: default on outside production. */
    introspection: boolean;
    /** SHUTDOWN_GRACE_MS: how long running jobs and sockets get on SIGTERM, default 10000. */
    shutdownGraceMs: number;
    /** TRUST_PROXY_HOPS: proxies in front of the API whose X-Forwarded-For is trusted for the client address (per-address limits), default 0 (the socket's peer address). */
    trustProxyHops: number;
  };
  /** METRICS_PORT: /metrics, /healthz, /readyz of the `worker` process, default 9464. */
  metricsPort: number;
  db: {
    /** DATABASE_URL, default postgres://postgres@127.0.0.1:5432/switchboard. */
    url: string;
    /** DATABASE_POOL_SIZE, default 10. */
    poolSize: number;
    /** DATABASE_READ_URL: a read replica used only by analytics (`metrics`); default: DATABASE_URL. */
    readUrl?: string;
  };
  analytics: {
    /** ANALYTICS_RAW_MAX_HOURS: `metrics` ranges up to this long read raw rows (exact percentiles); longer ones read hourly rollups, default 48. */
    rawMaxHours: number;
    /** ANALYTICS_ROLLUP_INTERVAL_MS: how often a worker rolls up finished hours (0 = never), default 300000. */
    rollupIntervalMs: number;
  };
  redis: {
    /** REDIS_URL, default redis://127.0.0.1:6379. */
    url: string;
    /** REDIS_PREFIX: namespace for every key, queue and channel, default "sb". */
    prefix: string;
  };
  auth: {
    /** AUTH_CACHE_TTL_MS: how long a resolved API key is cached per node, default 30000. */
    cacheTtlMs: number;
    /** AUTH_UNKNOWN_PREFIX_TTL_MS: how long a key prefix no key has is remembered as unknown per node (no database lookup), default 10000. */
    unknownPrefixTtlMs: number;
    /**
     * UNAUTHENTICATED_PER_MINUTE: GraphQL requests without a valid API key (none, unknown or revoked)
     * allowed per client address per minute, across nodes; beyond it RATE_LIMITED before any key lookup or parse, default 30.
     */
    unauthenticatedPerMinute: number;
  };
  limits: {
    /** MAX_PROMPT_CHARS, default 32000. */
    maxPromptChars: number;
    /** MAX_MESSAGES, default 200. */
    maxMessages: number;
    /** MAX_PAGE_SIZE for `generations(first)`, default 100. */
    maxPageSize: number;
    /** MAX_WAIT_SECONDS for `createGeneration(wait)`, default 60. */
    maxWaitSeconds: number;
    /** MAX_PARAMS_BYTES: size of the `params` JSON, default 16384. */
    maxParamsBytes: number;
    /** WS_MAX_PAYLOAD_BYTES: largest WebSocket message, default 65536. */
    wsMaxPayloadBytes: number;
    /** WS_MAX_SUBSCRIPTIONS: concurrent subscriptions per socket, default 50. */
    wsMaxSubscriptions: number;
    /** WS_MAX_BUFFERED_BYTES: unsent bytes a socket may hold (a slow consumer) before it is closed with 1013, default 4194304 (4 MiB). */
    wsMaxBufferedBytes: number;
    /** GRAPHQL_MAX_QUERY_BYTES: longest query text (HTTP and WebSocket), default 65536; longer is BAD_REQUEST (HTTP 400) before parsing. */
    maxQueryBytes: number;
    /** GRAPHQL_DOCUMENT_CACHE_BYTES: parsed-document cache per node, sized by source text plus AST, default 33554432 (32 MiB). */
    documentCacheBytes: number;
    /** PERSISTED_QUERY_CACHE_BYTES: automatic persisted query texts kept per node, default 16777216 (16 MiB). */
    persistedQueryCacheBytes: number;
    /** GRAPHQL_MAX_DEPTH default 10, GRAPHQL_MAX_ALIASES default 15, GRAPHQL_MAX_COST default 5000, GRAPHQL_MAX_DIRECTIVES default 20. */
    maxDepth: number;
    maxAliases: number;
    maxCost: number;
    maxDirectives: number;
  };
  worker: {
    /** WORKER_CONCURRENCY: jobs processed at once per worker process, default 32. */
    concurrency: number;
    /** JOB_ATTEMPTS: BullMQ attempts for retryable failures, default 3. */
    attempts: number;
    /** JOB_BACKOFF_MS: base of the exponential backoff, default 1000. */
    backoffMs: number;
    /** JOB_LOCK_MS: BullMQ lock duration; a dead worker's job is taken over after it, default 30000. */
    lockMs: number;
    /** JOB_MAX_STALLED: stalls before BullMQ fails a job (the sweeper then re-enqueues), default 2. */
    maxStalled: number;
    /** PROVIDER_TIMEOUT_MS: per-attempt upstream timeout, default 120000. */
    providerTimeoutMs: number;
    /**
     * PROVIDER_TIMEOUT_<MODALITY>_MS (TEXT, IMAGE, VIDEO, AUDIO, EMBEDDING) and `<PROVIDER>_TIMEOUT_MS` /
     * `<PROVIDER>_TIMEOUT_<MODALITY>_MS`: per-attempt timeouts by modality and provider (most specific wins;
     * default PROVIDER_TIMEOUT_MS).
     */
    timeouts: Record<string, number>;
    /** DELTA_COALESCE_MS: merge text deltas published within this window (0 = publish each), default 0. */
    deltaCoalesceMs: number;
    /**
     * FAULT_EXIT_AFTER_TERMINAL_COMMIT: fault injection for crash tests only — the worker process SIGKILLs
     * itself right after committing a simulated-provider generation's SUCCEEDED, before publishing it. Default false.
     */
    faultExitAfterTerminalCommit: boolean;
  };
  sweeper: {
    /** SWEEP_INTERVAL_MS, default 15000. */
    intervalMs: number;
    /** SWEEP_GRACE_MS: only generations untouched this long are checked, default 10000. */
    graceMs: number;
    /** GENERATION_MAX_AGE_MS: QUEUED/RUNNING older than this are failed (EXPIRED), default 86400000 (1 day). */
    maxAgeMs: number;
  };
  files: {
    /** BLOB_STORE: "postgres" (default) or "s3". */
    store: "postgres" | "s3";
    /** FILES_SIGNING_SECRET: HMAC secret for file URLs; default: generated once and kept in the settings table. */
    signingSecret?: string;
    /** FILE_URL_TTL_SECONDS: lifetime of a signed URL, default 3600. */
    urlTtlSeconds: number;
    /** BLOB_RETENTION_DAYS: media older than this are deleted by the maintenance job, default 30. */
    retentionDays: number;
    s3: {
      /** S3_ENDPOINT (e.g. http://minio:9000), S3_REGION (default us-east-1), S3_BUCKET (default switchboard), S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY, S3_FORCE_PATH_STYLE (default true). */
      endpoint?: string;
      region: string;
      bucket: string;
      accessKeyId?: string;
      secretAccessKey?: string;
      forcePathStyle: boolean;
    };
  };
  log: {
    /** LOG_LEVEL, default "info" ("silent" in tests). */
    level: string;
  };
  tracing: {
    /** OTEL_EXPORTER_OTLP_ENDPOINT: OTLP/HTTP base URL of a collector (`/v1/traces` is appended); unset (default) = tracing off, no overhead. */
    endpoint?: string;
    /** OTEL_EXPORTER_OTLP_HEADERS: `key=value,key2=value2` sent with every export (e.g. an auth token), default none. */
    headers: Record<string, string>;
    /** OTEL_SERVICE_NAME: `service.name` of every span, default "switchboard". */
    serviceName: string;
    /** OTEL_TRACES_SAMPLER_ARG: share of new traces recorded, 0..1 (a sampled parent is always followed), default 1. */
    sampleRatio: number;
    /** OTEL_BSP_SCHEDULE_DELAY: milliseconds between span export batches, default 5000. */
    exportDelayMs: number;
  };
  monitoring: {
    /** MONITORING_WEBHOOK_URL: every alert is POSTed here as JSON (5 s timeout, failures logged), default none. */
    webhookUrl?: string;
    anomaly: {
      /** ANOMALY_INTERVAL_MS: how often one worker (Redis lock) compares each provider's recent window with its baseline (0 = off), default 60000. */
      intervalMs: number;
      /** ANOMALY_STDDEV: standard deviations above the baseline that count as an anomaly, default 3. */
      stddev: number;
      /** ANOMALY_MIN_SAMPLES: attempts both windows need before anything is judged, default 20. */
      minSamples: number;
      /** ANOMALY_MIN_DEVIATION_MS: a latency rise smaller than this never alerts (floor under the stddev rule), default 500. */
      minDeviationMs: number;
      /** ANOMALY_MIN_ERROR_RATE_DEVIATION: an error-rate rise smaller than this (0..1, absolute) never alerts, default 0.1. */
      minErrorRateDeviation: number;
      /** ANOMALY_BASELINE_WINDOW_MS: the baseline is the last this-long less the recent window, default 3600000 (the last hour but its last 5 minutes). */
      baselineWindowMs: number;
      /** ANOMALY_RECENT_WINDOW_MS: the recent window judged against the baseline, default 300000 (5 min). */
      recentWindowMs: number;
    };
  };
  quotas: {
    /** QUOTA_PERIOD: "month" (default), "week" or "day"; periods start at UTC boundaries. */
    period: "month" | "week" | "day";
    /** QUOTA_FREE_USD / QUOTA_PRO_USD / QUOTA_ENTERPRISE_USD: budget per period by tier, defaults 5 / 100 / 10000. */
    tierLimitsUsd: Record<Tier, number>;
    /** QUOTA_WARN_RATIO: warn once per period when spent + reserved crosses this share of the limit, default 0.8. */
    warnRatio: number;
  };
  /** RATE_LIMIT_<TIER>_PER_MINUTE / _PER_HOUR: createGeneration calls per user (0 = unlimited). Defaults: free 120 / 2000, pro 1200 / 50000, enterprise 12000 / 500000. */
  rateLimits: Record<Tier, { perMinute: number; perHour: number }>;
  admission: {
    /** MAX_QUEUED_PER_USER: a user's QUEUED + RUNNING generations before QUEUE_FULL, default 5000. */
    maxQueuedPerUser: number;
    /** MAX_QUEUED_TOTAL: jobs waiting in the queue (all users) before QUEUE_FULL, default 200000. */
    maxQueuedTotal: number;
  };
  cache: {
    /** CACHE_REDIS_URL: a separate Redis for the cache (LRU eviction is fine there); default: REDIS_URL. */
    redisUrl?: string;
    /** CACHE_TTL_TEXT_SECONDS / _IMAGE_ / _VIDEO_ / _AUDIO_ / _EMBEDDING_: entry lifetime, defaults 86400 / 86400 / 86400 / 86400 / 604800. */
    ttlSeconds: Record<"TEXT" | "IMAGE" | "VIDEO" | "AUDIO" | "EMBEDDING", number>;
    /** CACHE_SHARED_MODELS: comma-separated models whose cache entries are shared across users (public content); default none. */
    sharedModels: string[];
    /** CACHE_CASE_SENSITIVE: whether prompt case matters for the key, default true. */
    caseSensitive: boolean;
    /** SEMANTIC_CACHE_THRESHOLD: cosine similarity a semantic hit needs, default 0.92. */
    semanticThreshold: number;
    /** SEMANTIC_CACHE_MODELS: comma-separated routes that use the semantic cache without asking; default none. */
    semanticModels: string[];
  };
  providers: {
    /** SWITCHBOARD_PROVIDERS_FILE: optional JSON file with extra providers, models, prices, aliases and tier restrictions (see README). */
    file?: string;
    /** SIMULATED_PROVIDER: offer the built-in simulated provider (fabricated outputs, no upstream), default true. */
    simulated: boolean;
    /** SIMULATED_PROVIDERS: comma-separated ids of extra independent simulated providers (e.g. simulated-b) for fallback and fault drills, default none. */
    simulatedExtra: string[];
    /**
     * Per provider, from the environment: `<PROVIDER>_API_KEY`, `<PROVIDER>_API_KEY_2` … `_N`
     * (labels env-1, env-2 …), `<PROVIDER>_BASE_URL`, `<PROVIDER>_KEY_STRATEGY`. The provider id is the
     * prefix in lower case (OPENAI → openai; HF_TOKEN also counts for huggingface).
     */
    vendors: Record<string, { baseUrl?: string; keys: { label: string; key: string }[]; keyStrategy?: string }>;
    /** SWITCHBOARD_MASTER_KEY: encrypts provider keys stored through the API (AES-256-GCM); required to add keys. */
    masterKey?: string;
    /** KEY_STRATEGY: round-robin | least-loaded (a provider's <PROVIDER>_KEY_STRATEGY may also be label:<label>), default round-robin. */
    keyStrategy: string;
    /** KEY_MAX_CONCURRENCY: calls in flight per provider key, default 64. */
    maxConcurrentPerKey: number;
    /** KEY_AUTH_FAILURES_TO_DISABLE: consecutive 401/403 answers that disable a key, default 2. */
    authFailuresToDisable: number;
    /** KEY_COOLDOWN_MS: cooldown after a 429 without Retry-After, default 10000. */
    defaultCooldownMs: number;
    /** PROVIDER_HEALTH_INTERVAL_MS: how often one worker probes each provider's health check (0 = never), default 60000. */
    healthIntervalMs: number;
    /** EMBEDDING_BATCH_MAX_SIZE / EMBEDDING_BATCH_MAX_WAIT_MS: embedding micro-batching (max wait 0 = off), defaults 64 / 10. */
    embeddingBatch: { maxSize: number; maxWaitMs: number };
    /** TASK_POLL_MIN_MS / TASK_POLL_MAX_MS: re-check delays for async upstream tasks (video), defaults 5000 / 60000. */
    pollMinMs: number;
    pollMaxMs: number;
    /** REPLICATE_WEBHOOK_SECRET: verifies Replicate's completion webhooks on /webhooks/providers/replicate (unset: the route is off, polling only). */
    replicateWebhookSecret?: string;
    /** MAX_FALLBACK_CANDIDATES: how many models a route may try in order, default 4. */
    maxCandidates: number;
  };
  resilience: {
    /** CIRCUIT_FAILURE_THRESHOLD: consecutive failures that open a provider's circuit, default 5. */
    failureThreshold: number;
    /** CIRCUIT_FAILURE_RATE: failure share over the window that opens it, default 0.5 (more than half) … */
    failureRate: number;
    /** CIRCUIT_MIN_CALLS: … once the window holds this many calls, default 10. */
    minCalls: number;
    /** CIRCUIT_WINDOW_MS: the sliding window, default 60000. */
    windowMs: number;
    /** CIRCUIT_RESET_MS: how long a circuit stays OPEN before a probe, default 30000. */
    resetMs: number;
    /** CIRCUIT_HALF_OPEN_MAX: probe calls admitted at once while HALF_OPEN, default 1. */
    halfOpenMax: number;
    /** CIRCUIT_PER_MODEL: comma-separated providers whose breakers are per model, default none. */
    perModelProviders: string[];
    /** USER_MAX_IN_FLIGHT: a user's generations running at once across all workers while other users have work queued (fairness; 0 = no cap), default 16. */
    userMaxInFlight: number;
    /** KEY_RPM / KEY_TPM: requests and tokens per minute per provider key (0 = no limit); `<PROVIDER>_KEY_RPM` / `_KEY_TPM` override per provider. */
    keyRpm: number;
    keyTpm: number;
    keyLimits: Record<string, { rpm?: number; tpm?: number }>;
  };
  webhooks: {
    /** WEBHOOK_ALLOWED_HOSTS: comma-separated host names, IPs or CIDR ranges exempt from the private-address (SSRF) guard; default none. */
    allowedHosts: string[];
    /** WEBHOOK_MAX_ATTEMPTS: attempts per delivery before it is FAILED, default 8. */
    maxAttempts: number;
    /** WEBHOOK_BACKOFF_BASE_MS: retry n waits base × 2^n ms, default 340000 (8 attempts then span ≈ 24 h). */
    backoffBaseMs: number;
    /** WEBHOOK_TIMEOUT_MS: per attempt, connect to last byte read, default 5000. */
    timeoutMs: number;
    /** WEBHOOK_CONCURRENCY: deliveries in flight per worker process, default 16. */
    concurrency: number;
    /** WEBHOOK_ENDPOINT_CONCURRENCY: deliveries in flight to one endpoint (or one callbackUrl origin) across all workers, 0 = no cap; default 4. */
    endpointConcurrency: number;
    /** WEBHOOK_USER_CONCURRENCY: one user's deliveries in flight across all workers, 0 = no cap; default 8. */
    userConcurrency: number;
    /** WEBHOOK_DNS_TIMEOUT_MS: the longest a webhook host name lookup may take (DNS asked directly, off the shared thread pool), default 2000. */
    dnsTimeoutMs: number;
  };
  bootstrap: {
    /** ADMIN_EMAIL: the admin created on an empty database by `serve --setup`, default admin@localhost. */
    adminEmail: string;
  };
}

export class ConfigError extends Error {
  constructor(problems: string[]) {
    // One problem is one line; several are listed together.
    super(problems.length === 1 ? `Invalid configuration: ${problems[0]}` : `Invalid configuration:\n  - ${problems.join("\n  - ")}`);
    this.name = "ConfigError";
  }
}

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

class Reader {
  readonly problems: string[] = [];
  constructor(private readonly env: Env) {}

  str(name: string, def: string): string {
    const v = this.env[name];
    return v === undefined || v === "" ? def : v;
  }
  opt(name: string): string | undefined {
    const v = this.env[name];
    return v === undefined || v === "" ? undefined : v;
  }
  int(name: string, def: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
    const raw = this.env[name];
    if (raw === undefined || raw === "") return def;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) {
      this.problems.push(`${name} must be an integer between ${min} and ${max} (got "${raw}")`);
      return def;
    }
    return n;
  }
  num(name: string, def: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
    const raw = this.env[name];
    if (raw === undefined || raw === "") return def;
    const n = Number(raw);
    if (!Number.isFinite(n) || n < min || n > max) {
      this.problems.push(`${name} must be a number between ${min} and ${max} (got "${raw}")`);
      return def;
    }
    return n;
  }
  bool(name: string, def: boolean): boolean {
    const raw = this.env[name];
    if (raw === undefined || raw === "") return def;
    if (/^(1|true|yes|on)$/i.test(raw)) return true;
    if (/^(0|false|no|off)$/i.test(raw)) return false;
    this.problems.push(`${name} must be true or false (got "${raw}")`);
    return def;
  }
  oneOf<T extends string>(name: string, def: T, allowed: readonly T[]): T {
    const raw = this.env[name];
    if (raw === undefined || raw === "") return def;
    if (!(allowed as readonly string[]).includes(raw)) {
      this.problems.push(`${name} must be one of ${allowed.join(", ")} (got "${raw}")`);
      return def;
    }
    return raw as T;
  }
  url(name: string, def: string, protocols: string[]): string {
    const raw = this.str(name, def);
    try {
      const u = new URL(raw);
      if (!protocols.includes(u.protocol)) throw new Error("protocol");
    } catch {
      this.problems.push(`${name} must be a ${protocols.join(" or ")} URL (got "${raw}")`);
    }
    return raw;
  }
}

/** Env names that end in _API_KEY or _BASE_URL but are not providers. */
const NOT_PROVIDERS = new Set(["DATABASE", "DATABASE_READ", "REDIS", "CACHE_REDIS", "PUBLIC", "S3", "MONITORING_WEBHOOK"]);

/** Scans `<PROVIDER>_API_KEY[_N]`, `<PROVIDER>_BASE_URL` and `<PROVIDER>_KEY_STRATEGY` for every provider. */
function vendorsFromEnv(env: Env, r: Reader): AppConfig["providers"]["vendors"] {
  const out: AppConfig["providers"]["vendors"] = {};
  const get = (prefix: string) => (out[prefix.toLowerCase().replace(/_/g, "-")] ??= { keys: [] });
  const keys: { prefix: string; n: number; key: string }[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (!value) continue;
    const k = /^([A-Z][A-Z0-9_]*?)_API_KEY(?:_(\d+))?$/.exec(name);
    if (k && !NOT_PROVIDERS.has(k[1])) keys.push({ prefix: k[1], n: k[2] ? Number(k[2]) : 1, key: value });
    const b = /^([A-Z][A-Z0-9_]*?)_BASE_URL$/.exec(name);
    if (b && !NOT_PROVIDERS.has(b[1])) get(b[1]).baseUrl = r.url(name, value, ["http:", "https:"]).replace(/\/$/, "");
    const s = /^([A-Z][A-Z0-9_]*?)_KEY_STRATEGY$/.exec(name);
    if (s) {
      if (!/^(round-robin|least-loaded|label:.+)$/.test(value)) r.problems.push(`${name} must be round-robin, least-loaded or label:<label> (got "${value}")`);
      else get(s[1]).keyStrategy = value;
    }
  }
  if (env.HF_TOKEN) keys.push({ prefix: "HUGGINGFACE", n: 0, key: env.HF_TOKEN });
  for (const k of keys.sort((a, b) => a.prefix.localeCompare(b.prefix) || a.n - b.n)) get(k.prefix).keys.push({ label: k.n === 0 ? "hf-token" : `env-${k.n}`, key: k.key });
  return out;
}

/**
 * Per-attempt timeouts keyed "<modality>", "<provider>" or "<provider>:<modality>" from
 * PROVIDER_TIMEOUT_<MODALITY>_MS, <PROVIDER>_TIMEOUT_MS and <PROVIDER>_TIMEOUT_<MODALITY>_MS.
 */
function timeoutsFromEnv(env: Env, r: Reader): Record<string, number> {
  const out: Record<string, number> = {};
  const modalities = ["TEXT", "IMAGE", "VIDEO", "AUDIO", "EMBEDDING"];
  for (const name of Object.keys(env)) {
    const m = /^([A-Z][A-Z0-9_]*?)_TIMEOUT(?:_(TEXT|IMAGE|VIDEO|AUDIO|EMBEDDING))?_MS$/.exec(name);
    if (!m || name === "PROVIDER_TIMEOUT_MS" || ["JOB_LOCK", "SHUTDOWN", "WEBHOOK", "WEBHOOK_DNS"].includes(m[1])) continue;
    if (m[1] === "PROVIDER" && m[2] && modalities.includes(m[2])) out[m[2]] = r.int(name, 120_000, 10);
    else if (m[1] !== "PROVIDER") out[m[2] ? `${m[1].toLowerCase().replace(/_/g, "-")}:${m[2]}` : m[1].toLowerCase().replace(/_/g, "-")] = r.int(name, 120_000, 10);
  }
  return out;
}

/** `<PROVIDER>_KEY_RPM` / `<PROVIDER>_KEY_TPM`: per-key limits for one provider. */
function keyLimitsFromEnv(env: Env, r: Reader): Record<string, { rpm?: number; tpm?: number }> {
  const out: Record<string, { rpm?: number; tpm?: number }> = {};
  for (const name of Object.keys(env)) {
    const m = /^([A-Z][A-Z0-9_]*?)_KEY_(RPM|TPM)$/.exec(name);
    if (!m) continue;
    const id = m[1].toLowerCase().replace(/_/g, "-");
    (out[id] ??= {})[m[2] === "RPM" ? "rpm" : "tpm"] = r.int(name, 0, 0);
  }
  return out;
}

/** OTEL_EXPORTER_OTLP_HEADERS: `key=value` pairs separated by commas (values may be URL-encoded, as the OTel spec says). */
function otlpHeaders(raw: string, r: Reader): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of raw.split(",").map((x) => x.trim()).filter(Boolean)) {
    const eq = part.indexOf("=");
    if (eq <= 0) r.problems.push(`OTEL_EXPORTER_OTLP_HEADERS must be key=value pairs separated by commas (got "${part}")`);
    else {
      const v = part.slice(eq + 1).trim();
      try {
        out[part.slice(0, eq).trim()] = decodeURIComponent(v);
      } catch {
        out[part.slice(0, eq).trim()] = v;
      }
    }
  }
  return out;
}

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
  const nodeEnv = r.oneOf("NODE_ENV", "development", ["development", "production", "test"] as const);
  const port = r.int("PORT", 4000, 0, 65535);
  const cors = r.str("CORS_ORIGINS", "*");
  const cfg: AppConfig = {
    env: nodeEnv,
    http: {
      port,
      host: r.str("HOST", "0.0.0.0"),
      publicUrl: r.url("PUBLIC_URL", `http://localhost:${port}`, ["http:", "https:"]).replace(/\/$/, ""),
      corsOrigins: cors === "*" ? "*" : cors.split(",").map((s) => s.trim()).filter(Boolean),
      bodyLimitBytes: r.int("BODY_LIMIT_BYTES", 1024 * 1024, 1024),
      introspection: r.bool("GRAPHQL_INTROSPECTION", nodeEnv !== "production"),
      shutdownGraceMs: r.int("SHUTDOWN_GRACE_MS", 10_000),
      trustProxyHops: r.int("TRUST_PROXY_HOPS", 0, 0, 10),
    },
    metricsPort: r.int("METRICS_PORT", 9464, 0, 65535),
    db: {
      url: r.url("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/switchboard", ["postgres:", "postgresql:"]),
      poolSize: r.int("DATABASE_POOL_SIZE", 10, 1, 500),
      readUrl: r.opt("DATABASE_READ_URL") && r.url("DATABASE_READ_URL", "", ["postgres:", "postgresql:"]),
    },
    analytics: {
      rawMaxHours: r.int("ANALYTICS_RAW_MAX_HOURS", 48, 1, 24 * 400),
      rollupIntervalMs: r.int("ANALYTICS_ROLLUP_INTERVAL_MS", 300_000, 0),
    },
    redis: {
      url: r.url("REDIS_URL", "redis://127.0.0.1:6379", ["redis:", "rediss:"]),
      prefix: r.str("REDIS_PREFIX", "sb"),
    },
    auth: {
      cacheTtlMs: r.int("AUTH_CACHE_TTL_MS", 30_000),
      unknownPrefixTtlMs: r.int("AUTH_UNKNOWN_PREFIX_TTL_MS", 10_000),
      unauthenticatedPerMinute: r.int("UNAUTHENTICATED_PER_MINUTE", 30, 1),
    },
    limits: {
      maxPromptChars: r.int("MAX_PROMPT_CHARS", 32_000, 1),
      maxMessages: r.int("MAX_MESSAGES", 200, 1),
      maxPageSize: r.int("MAX_PAGE_SIZE", 100, 1),
      maxWaitSeconds: r.int("MAX_WAIT_SECONDS", 60, 0, 600),
      maxParamsBytes: r.int("MAX_PARAMS_BYTES", 16_384, 2),
      wsMaxPayloadBytes: r.int("WS_MAX_PAYLOAD_BYTES", 65_536, 1024),
      wsMaxSubscriptions: r.int("WS_MAX_SUBSCRIPTIONS", 50, 1),
      wsMaxBufferedBytes: r.int("WS_MAX_BUFFERED_BYTES", 4 * 1024 * 1024, 1024),
      maxQueryBytes: r.int("GRAPHQL_MAX_QUERY_BYTES", 65_536, 256),
      documentCacheBytes: r.int("GRAPHQL_DOCUMENT_CACHE_BYTES", 32 * 1024 * 1024, 1024 * 1024),
      persistedQueryCacheBytes: r.int("PERSISTED_QUERY_CACHE_BYTES", 16 * 1024 * 1024, 0),
      maxDepth: r.int("GRAPHQL_MAX_DEPTH", 10, 2),
      maxAliases: r.int("GRAPHQL_MAX_ALIASES", 15, 1),
      maxCost: r.int("GRAPHQL_MAX_COST", 5000, 10),
      maxDirectives: r.int("GRAPHQL_MAX_DIRECTIVES", 20, 1),
    },
    worker: {
      concurrency: r.int("WORKER_CONCURRENCY", 32, 1, 10_000),
      attempts: r.int("JOB_ATTEMPTS", 3, 1, 100),
      backoffMs: r.int("JOB_BACKOFF_MS", 1000, 0),
      lockMs: r.int("JOB_LOCK_MS", 30_000, 500),
      maxStalled: r.int("JOB_MAX_STALLED", 2, 0),
      providerTimeoutMs: r.int("PROVIDER_TIMEOUT_MS", 120_000, 10),
      timeouts: timeoutsFromEnv(env, r),
      deltaCoalesceMs: r.int("DELTA_COALESCE_MS", 0, 0, 5000),
      faultExitAfterTerminalCommit: r.bool("FAULT_EXIT_AFTER_TERMINAL_COMMIT", false),
    },
    sweeper: {
      intervalMs: r.int("SWEEP_INTERVAL_MS", 15_000, 100),
      graceMs: r.int("SWEEP_GRACE_MS", 10_000, 0),
      maxAgeMs: r.int("GENERATION_MAX_AGE_MS", 86_400_000, 1000),
    },
    files: {
      store: r.oneOf("BLOB_STORE", "postgres", ["postgres", "s3"] as const),
      signingSecret: r.opt("FILES_SIGNING_SECRET"),
      urlTtlSeconds: r.int("FILE_URL_TTL_SECONDS", 3600, 1),
      retentionDays: r.int("BLOB_RETENTION_DAYS", 30, 1),
      s3: {
        endpoint: r.opt("S3_ENDPOINT"),
        region: r.str("S3_REGION", "us-east-1"),
        bucket: r.str("S3_BUCKET", "switchboard"),
        accessKeyId: r.opt("S3_ACCESS_KEY_ID"),
        secretAccessKey: r.opt("S3_SECRET_ACCESS_KEY"),
        forcePathStyle: r.bool("S3_FORCE_PATH_STYLE", true),
      },
    },
    log: { level: r.oneOf("LOG_LEVEL", nodeEnv === "test" ? "silent" : "info", ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const) },
    tracing: {
      endpoint: env.OTEL_EXPORTER_OTLP_ENDPOINT ? r.url("OTEL_EXPORTER_OTLP_ENDPOINT", "", ["http:", "https:"]).replace(/\/$/, "") : undefined,
      headers: otlpHeaders(r.str("OTEL_EXPORTER_OTLP_HEADERS", ""), r),
      serviceName: r.str("OTEL_SERVICE_NAME", "switchboard"),
      sampleRatio: r.num("OTEL_TRACES_SAMPLER_ARG", 1, 0, 1),
      exportDelayMs: r.int("OTEL_BSP_SCHEDULE_DELAY", 5000, 1),
    },
    monitoring: {
      webhookUrl: env.MONITORING_WEBHOOK_URL ? r.url("MONITORING_WEBHOOK_URL", "", ["http:", "https:"]) : undefined,
      anomaly: {
        intervalMs: r.int("ANOMALY_INTERVAL_MS", 60_000, 0),
        stddev: r.num("ANOMALY_STDDEV", 3, 0),
        minSamples: r.int("ANOMALY_MIN_SAMPLES", 20, 1),
        minDeviationMs: r.int("ANOMALY_MIN_DEVIATION_MS", 500, 0),
        minErrorRateDeviation: r.num("ANOMALY_MIN_ERROR_RATE_DEVIATION", 0.1, 0, 1),
        baselineWindowMs: r.int("ANOMALY_BASELINE_WINDOW_MS", 3_600_000, 1000),
        recentWindowMs: r.int("ANOMALY_RECENT_WINDOW_MS", 300_000, 100),
      },
    },
    quotas: {
      period: r.oneOf("QUOTA_PERIOD", "month", ["month", "week", "day"] as const),
      tierLimitsUsd: {
        free: r.num("QUOTA_FREE_USD", 5),
        pro: r.num("QUOTA_PRO_USD", 100),
        enterprise: r.num("QUOTA_ENTERPRISE_USD", 10_000),
      },
      warnRatio: r.num("QUOTA_WARN_RATIO", 0.8, 0, 1),
    },
    rateLimits: {
      free: { perMinute: r.int("RATE_LIMIT_FREE_PER_MINUTE", 120), perHour: r.int("RATE_LIMIT_FREE_PER_HOUR", 2000) },
      pro: { perMinute: r.int("RATE_LIMIT_PRO_PER_MINUTE", 1200), perHour: r.int("RATE_LIMIT_PRO_PER_HOUR", 50_000) },
      enterprise: { perMinute: r.int("RATE_LIMIT_ENTERPRISE_PER_MINUTE", 12_000), perHour: r.int("RATE_LIMIT_ENTERPRISE_PER_HOUR", 500_000) },
    },
    admission: {
      maxQueuedPerUser: r.int("MAX_QUEUED_PER_USER", 5000, 1),
      maxQueuedTotal: r.int("MAX_QUEUED_TOTAL", 200_000, 1),
    },
    cache: {
      redisUrl: r.opt("CACHE_REDIS_URL"),
      ttlSeconds: {
        TEXT: r.int("CACHE_TTL_TEXT_SECONDS", 86_400, 1),
        IMAGE: r.int("CACHE_TTL_IMAGE_SECONDS", 86_400, 1),
        VIDEO: r.int("CACHE_TTL_VIDEO_SECONDS", 86_400, 1),
        AUDIO: r.int("CACHE_TTL_AUDIO_SECONDS", 86_400, 1),
        EMBEDDING: r.int("CACHE_TTL_EMBEDDING_SECONDS", 604_800, 1),
      },
      sharedModels: r.str("CACHE_SHARED_MODELS", "").split(",").map((x) => x.trim()).filter(Boolean),
      caseSensitive: r.bool("CACHE_CASE_SENSITIVE", true),
      semanticThreshold: r.num("SEMANTIC_CACHE_THRESHOLD", 0.92, 0, 1),
      semanticModels: r.str("SEMANTIC_CACHE_MODELS", "").split(",").map((x) => x.trim()).filter(Boolean),
    },
    providers: {
      file: r.opt("SWITCHBOARD_PROVIDERS_FILE"),
      simulated: r.bool("SIMULATED_PROVIDER", true),
      simulatedExtra: r.str("SIMULATED_PROVIDERS", "").split(",").map((x) => x.trim()).filter(Boolean),
      vendors: vendorsFromEnv(env, r),
      masterKey: r.opt("SWITCHBOARD_MASTER_KEY"),
      keyStrategy: r.oneOf("KEY_STRATEGY", "round-robin", ["round-robin", "least-loaded"] as const),
      maxConcurrentPerKey: r.int("KEY_MAX_CONCURRENCY", 64, 1),
      authFailuresToDisable: r.int("KEY_AUTH_FAILURES_TO_DISABLE", 2, 1),
      defaultCooldownMs: r.int("KEY_COOLDOWN_MS", 10_000, 0),
      healthIntervalMs: r.int("PROVIDER_HEALTH_INTERVAL_MS", 60_000, 0),
      embeddingBatch: { maxSize: r.int("EMBEDDING_BATCH_MAX_SIZE", 64, 1, 2048), maxWaitMs: r.int("EMBEDDING_BATCH_MAX_WAIT_MS", 10, 0, 10_000) },
      pollMinMs: r.int("TASK_POLL_MIN_MS", 5000, 10),
      pollMaxMs: r.int("TASK_POLL_MAX_MS", 60_000, 10),
      replicateWebhookSecret: r.opt("REPLICATE_WEBHOOK_SECRET"),
      maxCandidates: r.int("MAX_FALLBACK_CANDIDATES", 4, 1, 20),
    },
    resilience: {
      failureThreshold: r.int("CIRCUIT_FAILURE_THRESHOLD", 5, 1),
      failureRate: r.num("CIRCUIT_FAILURE_RATE", 0.5, 0, 1),
      minCalls: r.int("CIRCUIT_MIN_CALLS", 10, 1),
      windowMs: r.int("CIRCUIT_WINDOW_MS", 60_000, 100),
      resetMs: r.int("CIRCUIT_RESET_MS", 30_000, 10),
      halfOpenMax: r.int("CIRCUIT_HALF_OPEN_MAX", 1, 1),
      perModelProviders: r.str("CIRCUIT_PER_MODEL", "").split(",").map((x) => x.trim()).filter(Boolean),
      userMaxInFlight: r.int("USER_MAX_IN_FLIGHT", 16, 0),
      keyRpm: r.int("KEY_RPM", 0, 0),
      keyTpm: r.int("KEY_TPM", 0, 0),
      keyLimits: keyLimitsFromEnv(env, r),
    },
    webhooks: {
      allowedHosts: r.str("WEBHOOK_ALLOWED_HOSTS", "").split(",").map((x) => x.trim().toLowerCase()).filter(Boolean),
      maxAttempts: r.int("WEBHOOK_MAX_ATTEMPTS", 8, 1, 50),
      backoffBaseMs: r.int("WEBHOOK_BACKOFF_BASE_MS", 340_000, 0),
      timeoutMs: r.int("WEBHOOK_TIMEOUT_MS", 5000, 100, 60_000),
      concurrency: r.int("WEBHOOK_CONCURRENCY", 16, 1, 1000),
      endpointConcurrency: r.int("WEBHOOK_ENDPOINT_CONCURRENCY", 4, 0, 1000),
      userConcurrency: r.int("WEBHOOK_USER_CONCURRENCY", 8, 0, 10_000),
      dnsTimeoutMs: r.int("WEBHOOK_DNS_TIMEOUT_MS", 2000, 50, 60_000),
    },
    bootstrap: { adminEmail: r.str("ADMIN_EMAIL", "admin@localhost") },
  };
  for (const id of cfg.providers.simulatedExtra)
    if (!/^simulated-[a-z0-9-]+$/.test(id)) r.problems.push(`SIMULATED_PROVIDERS: "${id}" must look like simulated-<name> (kebab-case)`);
  for (const h of cfg.webhooks.allowedHosts)
    if (!/^(\[?[0-9a-z.:_-]+\]?)(\/\d{1,3})?$/.test(h)) r.problems.push(`WEBHOOK_ALLOWED_HOSTS entries must be host names, IPs or CIDR ranges (got "${h}")`);
  if (cfg.providers.masterKey !== undefined && cfg.providers.masterKey.length < 32)
    r.problems.push("SWITCHBOARD_MASTER_KEY must be at least 32 characters (e.g. `openssl rand -hex 32`)");
  if (cfg.monitoring.anomaly.recentWindowMs >= cfg.monitoring.anomaly.baselineWindowMs)
    r.problems.push("ANOMALY_RECENT_WINDOW_MS must be shorter than ANOMALY_BASELINE_WINDOW_MS (the baseline is the longer window before the recent one)");
  if (cfg.files.store === "s3" && !env.S3_BUCKET && !env.S3_ENDPOINT) {
    r.problems.push("BLOB_STORE=s3 needs S3_ENDPOINT (or AWS defaults) and S3_BUCKET");
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
