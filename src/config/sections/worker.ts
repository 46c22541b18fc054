/** The worker process: BullMQ job options, upstream timeouts, delta coalescing, fault injection. */
import { bool, int, scan } from "../spec";
import type { Reader } from "../reader";

export const worker = {
  /** Jobs processed at once per worker process. */
  concurrency: int("WORKER_CONCURRENCY", 32, 1, 10_000),
  /** BullMQ attempts for retryable upstream failures. */
  attempts: int("JOB_ATTEMPTS", 3, 1, 100),
  /** Base of the exponential backoff with full jitter (Retry-After wins), ms. */
  backoffMs: int("JOB_BACKOFF_MS", 1000, 0),
  /** BullMQ lock duration; a dead worker's job is taken over after it, ms. */
  lockMs: int("JOB_LOCK_MS", 30_000, 500),
  /** Stalls before BullMQ fails a job (the sweeper then re-enqueues). */
  maxStalled: int("JOB_MAX_STALLED", 2, 0),
  /** Per-attempt upstream timeout, ms. */
  providerTimeoutMs: int("PROVIDER_TIMEOUT_MS", 120_000, 10),
  /**
   * Per-attempt timeouts by modality (TEXT, IMAGE, VIDEO, AUDIO, EMBEDDING) and provider, keyed
   * "<modality>", "<provider>" or "<provider>:<modality>"; the most specific wins, default providerTimeoutMs.
   */
  timeouts: scan(["PROVIDER_TIMEOUT_<MODALITY>_MS", "<PROVIDER>_TIMEOUT_MS", "<PROVIDER>_TIMEOUT_<MODALITY>_MS"], timeoutsFromEnv),
  /** How often one process looks at the queue's head to send QUEUED position events (0 = never), ms. */
  queuePositionIntervalMs: int("QUEUE_POSITION_INTERVAL_MS", 2000, 0),
  /** Waiting jobs, from the head of the queue, whose subscribers get QUEUED position events. */
  queuePositionWatch: int("QUEUE_POSITION_WATCH", 1000, 1, 100_000),
  /** Merge text deltas published within this window (0 = publish each), ms. */
  deltaCoalesceMs: int("DELTA_COALESCE_MS", 0, 0, 5000),
  /**
   * Fault injection for crash tests only — the worker process SIGKILLs itself right after
   * committing a simulated-provider generation's SUCCEEDED, before publishing it.
   */
  faultExitAfterTerminalCommit: bool("FAULT_EXIT_AFTER_TERMINAL_COMMIT", false),
};

/**
 * Scans PROVIDER_TIMEOUT_<MODALITY>_MS, <PROVIDER>_TIMEOUT_MS and <PROVIDER>_TIMEOUT_<MODALITY>_MS.
 * An empty value is unset, as for every other variable: it falls back to the next less specific timeout.
 */
function timeoutsFromEnv(r: Reader): Record<string, number> {
  const out: Record<string, number> = {};
  const modalities = ["TEXT", "IMAGE", "VIDEO", "AUDIO", "EMBEDDING"];
  for (const [name, value] of Object.entries(r.env)) {
    const m = /^([A-Z][A-Z0-9_]*?)_TIMEOUT(?:_(TEXT|IMAGE|VIDEO|AUDIO|EMBEDDING))?_MS$/.exec(name);
    if (!m || !value || name === "PROVIDER_TIMEOUT_MS" || ["JOB_LOCK", "SHUTDOWN", "WEBHOOK", "WEBHOOK_DNS"].includes(m[1])) continue;
    // The 0 passed as default is never returned: the value is set (checked above) and a malformed one fails loadConfig.
    if (m[1] === "PROVIDER" && m[2] && modalities.includes(m[2])) out[m[2]] = r.int(name, 0, 10);
    else if (m[1] !== "PROVIDER") out[m[2] ? `${m[1].toLowerCase().replace(/_/g, "-")}:${m[2]}` : m[1].toLowerCase().replace(/_/g, "-")] = r.int(name, 0, 10);
  }
  return out;
}
