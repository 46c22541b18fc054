/** Circuit breakers, per-user fairness and per-key rate limits. */
import { int, list, num, scan } from "../spec";
import type { Reader } from "../reader";

export const resilience = {
  /** Consecutive failures that open a provider's circuit. */
  failureThreshold: int("CIRCUIT_FAILURE_THRESHOLD", 5, 1),
  /** Failure share over the window that opens it (0.5: more than half) … */
  failureRate: num("CIRCUIT_FAILURE_RATE", 0.5, 0, 1),
  /** … once the window holds this many calls. */
  minCalls: int("CIRCUIT_MIN_CALLS", 10, 1),
  /** The sliding window, ms. */
  windowMs: int("CIRCUIT_WINDOW_MS", 60_000, 100),
  /** How long a circuit stays OPEN before a probe, ms. */
  resetMs: int("CIRCUIT_RESET_MS", 30_000, 10),
  /** Probe calls admitted at once while HALF_OPEN. */
  halfOpenMax: int("CIRCUIT_HALF_OPEN_MAX", 1, 1),
  /** Comma-separated providers whose breakers are per model; default none. */
  perModelProviders: list("CIRCUIT_PER_MODEL"),
  /** A user's generations running at once across all workers while other users have work queued (fairness; 0 = no cap). */
  userMaxInFlight: int("USER_MAX_IN_FLIGHT", 16, 0),
  /** Requests per minute per provider key, exact across workers (0 = no limit); keyLimits overrides per provider. */
  keyRpm: int("KEY_RPM", 0, 0),
  /** Tokens per minute per provider key (0 = no limit); keyLimits overrides per provider. */
  keyTpm: int("KEY_TPM", 0, 0),
  /** `<PROVIDER>_KEY_RPM` / `<PROVIDER>_KEY_TPM`: per-key limits for one provider (unset: keyRpm / keyTpm). */
  keyLimits: scan(["<PROVIDER>_KEY_RPM", "<PROVIDER>_KEY_TPM"], keyLimitsFromEnv),
};

/** An empty value reads as 0 (no limit for that provider), not as unset. */
function keyLimitsFromEnv(r: Reader): Record<string, { rpm?: number; tpm?: number }> {
  const out: Record<string, { rpm?: number; tpm?: number }> = {};
  for (const name of Object.keys(r.env)) {
    const m = /^([A-Z][A-Z0-9_]*?)_KEY_(RPM|TPM)$/.exec(name);
    if (!m) continue;
    const id = m[1].toLowerCase().replace(/_/g, "-");
    (out[id] ??= {})[m[2] === "RPM" ? "rpm" : "tpm"] = r.int(name, 0, 0);
  }
  return out;
}
