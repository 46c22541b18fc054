/** Providers: the providers file, simulated providers, env key pools, key selection and health, polling, fallback. */
import { bool, computed, int, list, num, oneOf, opt, scan } from "../spec";
import type { Reader } from "../reader";

/** One provider's settings from the environment. */
export interface VendorEnv {
  baseUrl?: string;
  keys: { label: string; key: string }[];
  keyStrategy?: string;
}

export const providers = {
  /** Optional JSON file with extra providers, models, prices, aliases and tier restrictions (see README). */
  file: opt("SWITCHBOARD_PROVIDERS_FILE"),
  /** Offer the built-in simulated provider (fabricated outputs, no upstream). */
  simulated: bool("SIMULATED_PROVIDER", true),
  /** Comma-separated ids of extra independent simulated providers (e.g. simulated-b) for fallback and fault drills; default none. */
  simulatedExtra: list("SIMULATED_PROVIDERS"),
  /**
   * Per provider, from the environment: `<PROVIDER>_API_KEY`, `<PROVIDER>_API_KEY_2` … `_N`
   * (labels env-1, env-2 …), `<PROVIDER>_BASE_URL`, `<PROVIDER>_KEY_STRATEGY`. The provider id is the
   * prefix in lower case (OPENAI → openai; HF_TOKEN also counts for huggingface).
   */
  vendors: scan(["<PROVIDER>_API_KEY", "<PROVIDER>_BASE_URL", "<PROVIDER>_KEY_STRATEGY", "HF_TOKEN"], vendorsFromEnv),
  /** Encrypts provider keys stored through the API (AES-256-GCM); required to add keys. */
  masterKey: opt("SWITCHBOARD_MASTER_KEY"),
  /** round-robin | least-loaded (a provider's <PROVIDER>_KEY_STRATEGY may also be label:<label>). */
  keyStrategy: oneOf<string>("KEY_STRATEGY", "round-robin", ["round-robin", "least-loaded"]),
  /** Calls in flight per provider key. */
  maxConcurrentPerKey: int("KEY_MAX_CONCURRENCY", 64, 1),
  /** Consecutive 401/403 answers that disable a key. */
  authFailuresToDisable: int("KEY_AUTH_FAILURES_TO_DISABLE", 2, 1),
  /** Cooldown after a 429 without Retry-After, ms. */
  defaultCooldownMs: int("KEY_COOLDOWN_MS", 10_000, 0),
  /** How often one worker probes each provider's health check (0 = never), ms. */
  healthIntervalMs: int("PROVIDER_HEALTH_INTERVAL_MS", 60_000, 0),
  /** Embedding micro-batching: batch size, and the longest a call waits for company (0 = off), ms. */
  embeddingBatch: { maxSize: int("EMBEDDING_BATCH_MAX_SIZE", 64, 1, 2048), maxWaitMs: int("EMBEDDING_BATCH_MAX_WAIT_MS", 10, 0, 10_000) },
  /** First re-check delay of an async upstream task (video), ms. */
  pollMinMs: int("TASK_POLL_MIN_MS", 5000, 10),
  /** Longest re-check delay of an async upstream task, ms. */
  pollMaxMs: int("TASK_POLL_MAX_MS", 60_000, 10),
  /** Verifies Replicate's completion webhooks on /webhooks/providers/replicate (unset: the route is off, polling only). */
  replicateWebhookSecret: opt("REPLICATE_WEBHOOK_SECRET"),
  /** How many models a route may try in order. */
  maxCandidates: int("MAX_FALLBACK_CANDIDATES", 4, 1, 20),
  /**
   * How often one node reads every configured provider's own model list (discovery, also at start), ms;
   * 0 = never on its own (admins still run refreshModels, and a finished pullOllamaModel adds its model).
   */
  modelRefreshIntervalMs: int("MODEL_REFRESH_INTERVAL_MS", computed("`3600000` (`0` under NODE_ENV=test)", (c) => (c.nodeEnv === "test" ? 0 : 3_600_000)), 0),
  /** deny: a discovered model with no known price is refused (the message says how to price it); allow: it is usable, see UNPRICED_RESERVE_USD. */
  unpricedModels: oneOf<"deny" | "allow">("UNPRICED_MODELS", "deny", ["deny", "allow"]),
  /** What each request to an unpriced model reserves (UNPRICED_MODELS=allow), USD; it is charged the provider's reported cost, else 0. */
  unpricedReserveUsd: num("UNPRICED_RESERVE_USD", 0.05, 0, 1000),
  /**
   * The free tier may not use a model whose input or output price is above this, USD per 1M tokens
   * (unpriced models count as above it); 0 = no cap. A providers file `tiers.free` list replaces the cap.
   */
  freeTierMaxPricePerMTok: num("FREE_TIER_MAX_PRICE_PER_MTOK", 10, 0),
};

/** Env names that end in _API_KEY or _BASE_URL but are not providers. */
const NOT_PROVIDERS = new Set(["DATABASE", "DATABASE_READ", "REDIS", "CACHE_REDIS", "PUBLIC", "S3", "MONITORING_WEBHOOK"]);

/** Scans `<PROVIDER>_API_KEY[_N]`, `<PROVIDER>_BASE_URL` and `<PROVIDER>_KEY_STRATEGY` for every provider. */
function vendorsFromEnv(r: Reader): Record<string, VendorEnv> {
  const env = r.env;
  const out: Record<string, VendorEnv> = {};
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
      if (!/^(round-robin|least-loaded|label:.+)$/.test(value)) r.problem(`${name} must be round-robin, least-loaded or label:<label> (got "${value}")`);
      else get(s[1]).keyStrategy = value;
    }
  }
  if (env.HF_TOKEN) keys.push({ prefix: "HUGGINGFACE", n: 0, key: env.HF_TOKEN });
  for (const k of keys.sort((a, b) => a.prefix.localeCompare(b.prefix) || a.n - b.n)) get(k.prefix).keys.push({ label: k.n === 0 ? "hf-token" : `env-${k.n}`, key: k.key });
  return out;
}
