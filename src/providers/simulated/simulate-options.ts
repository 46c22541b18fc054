/** Failures the simulated provider can inject. */
export type SimulatedFailure =
  | "timeout"
  | "rate_limited"
  | "unavailable"
  | "overloaded"
  | "bad_response"
  | "cut_stream";

export const SIMULATED_FAILURES: readonly SimulatedFailure[] = [
  "timeout",
  "rate_limited",
  "unavailable",
  "overloaded",
  "bad_response",
  "cut_stream",
];

/** Largest accepted `latencyMs`. */
export const MAX_LATENCY_MS = 60_000;
/** Largest accepted `steps`. */
export const MAX_STEPS = 10_000;

/** The knobs read from `params.simulate`, with defaults applied. */
export interface SimulateOptions {
  /** Total simulated latency in ms, spread over `steps`. Default 0 (no waiting). 0..60000. */
  latencyMs: number;
  /**
   * Number of paced steps (progress reports / stream batches), a positive integer.
   * Undefined means the modality default: text → one step per token, media → 5.
   */
  steps?: number;
  /**
   * Probability (0..1) that an attempt fails. Default 0, or 1 when `failWith` is given.
   * Above 0 requires `failWith`.
   */
  failRate: number;
  /** The failure to inject; without it nothing fails. */
  failWith?: SimulatedFailure;
  /** `Retry-After` seconds reported by `rate_limited` failures (non-negative). Default 1. */
  retryAfterSeconds?: number;
}

/** Thrown by {@link parseSimulateOptions} for malformed input; the message names the field. */
export class SimulateOptionsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SimulateOptionsError";
  }
}

const KNOWN_KEYS = new Set(["latencyMs", "steps", "failRate", "failWith", "retryAfterSeconds"]);

function finiteNumber(obj: Record<string, unknown>, key: string): number | undefined {
  const value = obj[key];
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new SimulateOptionsError(`simulate.${key} must be a finite number`);
  }
  return value;
}

function inRange(key: string, value: number, min: number, max: number): number {
  if (value < min || value > max) {
    throw new SimulateOptionsError(`simulate.${key} must be between ${min} and ${max}, got ${value}`);
  }
  return value;
}

/**
 * Reads and validates `params.simulate`. Pure: the API layer calls it at request time to
 * reject bad input, and the provider calls it again when generating.
 *
 * @param params - the request's provider params; `simulate` may be absent (all defaults).
 * @returns the options with defaults applied.
 * @throws SimulateOptionsError when `simulate` is not an object, has unknown keys, or a
 *   field has the wrong type or is out of range (or `failRate` > 0 lacks `failWith`).
 */
export function parseSimulateOptions(params: Record<string, unknown> | null | undefined): SimulateOptions {
  const raw = params?.simulate;
  if (raw === undefined || raw === null) return { latencyMs: 0, failRate: 0 };
  if (typeof raw !== "object" || Array.isArray(raw)) {
    throw new SimulateOptionsError("simulate must be an object");
  }
  const obj = raw as Record<string, unknown>;
  const unknown = Object.keys(obj).filter((k) => !KNOWN_KEYS.has(k));
  if (unknown.length > 0) {
    throw new SimulateOptionsError(`simulate has unknown field(s): ${unknown.join(", ")}`);
  }

  const latencyMs = inRange("latencyMs", finiteNumber(obj, "latencyMs") ?? 0, 0, MAX_LATENCY_MS);
  const steps = finiteNumber(obj, "steps");
  if (steps !== undefined && (!Number.isInteger(steps) || steps < 1 || steps > MAX_STEPS)) {
    throw new SimulateOptionsError(`simulate.steps must be an integer between 1 and ${MAX_STEPS}`);
  }
  const failWith = obj.failWith;
  if (failWith !== undefined && !SIMULATED_FAILURES.includes(failWith as SimulatedFailure)) {
    throw new SimulateOptionsError(`simulate.failWith must be one of ${SIMULATED_FAILURES.join(", ")}`);
  }
  const rate = finiteNumber(obj, "failRate");
  const failRate = inRange("failRate", rate ?? (failWith === undefined ? 0 : 1), 0, 1);
  if (failRate > 0 && failWith === undefined) {
    throw new SimulateOptionsError("simulate.failRate above 0 needs simulate.failWith");
  }
  const retryAfter = finiteNumber(obj, "retryAfterSeconds");
  if (retryAfter !== undefined) inRange("retryAfterSeconds", retryAfter, 0, 86_400);

  const options: SimulateOptions = { latencyMs, failRate };
  if (steps !== undefined) options.steps = steps;
  if (failWith !== undefined) options.failWith = failWith as SimulatedFailure;
  if (retryAfter !== undefined) options.retryAfterSeconds = retryAfter;
  return options;
}
