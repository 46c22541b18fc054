/**
 * The runner's vocabulary: how an attempt fails (AttemptError, with the kinds only the runner
 * records), why a run waits, how a run ends (RunOutcome), and the one translation of a run's
 * outcome into what the queue does with its job (QueueAction). Pure: no I/O, no bullmq.
 */
import type { GenerationEntity } from "../../../db/entities/generation.entity";
import type { Claim } from "../generation.store";
import { ProviderError, type ProviderErrorKind } from "../../../providers/contract";

/**
 * What `generation_attempts.error_kind` holds: a provider's error kinds, and the runner's own —
 * `circuit_open` (skipped without a call: the candidate's circuit is OPEN), `keys_busy` (every
 * key at its concurrency cap), `worker_lost` (the worker running it stopped; set by the claim) and
 * `moderation_unavailable` (the output could not be moderated and MODERATION_ON_ERROR=closed).
 */
export type AttemptErrorKind = ProviderErrorKind | "circuit_open" | "keys_busy" | "worker_lost" | "moderation_unavailable";

/** How an attempt failed, as the runner reasons about it and records it (a ProviderError is one). */
export interface AttemptError {
  readonly kind: AttemptErrorKind;
  readonly message: string;
  readonly retryable: boolean;
  /** True when part of a text answer had already streamed before the failure. */
  readonly partial?: boolean;
  readonly retryAfterSeconds?: number;
}

/** Why a run waits in delayed without using up a retry (the `error_kind` of its retry metric). */
export type DelayReason = "circuit_open" | "keys_busy" | "rate_limited";

/**
 * A retryable failure handed to the queue: it retries the job with backoff, after the
 * provider's Retry-After (`delayMs`) when it sent one, never past the request's deadline
 * (`maxDelayMs`). Its message and kind are the attempt error's (logs and traces show them).
 */
export class RetryLaterError extends Error {
  readonly kind: AttemptErrorKind;

  constructor(readonly error: AttemptError, readonly delayMs?: number, readonly maxDelayMs?: number) {
    super(error.message);
    this.name = "RetryLaterError";
    this.kind = error.kind;
  }
}

/** The retry of a failed run: after the provider's Retry-After, if any, and never past the request's deadline. */
export function retryLater(err: AttemptError, deadlineAt: Date | null, now = Date.now()): RetryLaterError {
  const delayMs = err.retryAfterSeconds !== undefined ? err.retryAfterSeconds * 1000 : undefined;
  return new RetryLaterError(err, delayMs, deadlineAt ? Math.max(0, deadlineAt.getTime() - now) : undefined);
}

export interface RunJob {
  generationId: string;
  /** No retry follows a retryable failure on the last attempt: it fails the generation. */
  isLastAttempt: boolean;
  /** The claim the row was admitted with (born RUNNING, the fast sync path): the run makes none of its own. */
  claimed?: Claim;
}

export type RunOutcome =
  | { kind: "finished"; status: "SUCCEEDED" | "FAILED" }
  | { kind: "skipped"; reason: string }
  | { kind: "retry"; error: RetryLaterError }
  /** This process is shutting down: the job goes back to the queue for another worker. */
  | { kind: "handback" }
  /** Every key is cooling down: the job waits in delayed (no retry used up). */
  | { kind: "delay"; delayMs: number }
  /** An upstream task is running: a delayed job re-checks it (no worker slot held meanwhile). */
  | { kind: "recheck"; delayMs: number };

/** What the queue does with a run's job: the only translation of a RunOutcome. */
export type QueueAction =
  | { kind: "complete" }
  | { kind: "retry"; error: RetryLaterError }
  /** Back to delayed without using up one of the job's attempts. */
  | { kind: "delay"; delayMs: number };

export function queueAction(o: RunOutcome): QueueAction {
  switch (o.kind) {
    case "retry":
      return { kind: "retry", error: o.error };
    // Shutdown hand-back (at once), every key cooling down, or an upstream task to re-check later.
    case "handback":
      return { kind: "delay", delayMs: 0 };
    case "delay":
    case "recheck":
      return { kind: "delay", delayMs: o.delayMs };
    default:
      return { kind: "complete" };
  }
}

/** How one upstream call (or skipped candidate) ended, for the candidate loop. */
export type CallOutcome =
  | { kind: "done"; result: RunOutcome }
  | { kind: "error"; err: AttemptError; otherKeys: boolean }
  | { kind: "wait"; err: AttemptError; delayMs: number; reason: string; cause: DelayReason };

export const superseded = (): RunOutcome => ({ kind: "skipped", reason: "superseded or cancelled while running" });

/** The generation's `error.code` for an attempt error kind. */
export const errorCode = (kind: string): string =>
  ({ unavailable: "PROVIDER_UNAVAILABLE", auth: "PROVIDER_AUTH" } as Record<string, string>)[kind] ?? kind.toUpperCase();

/** Skipped without an upstream call: the candidate's circuit is OPEN. */
export const circuitOpenError = (circuit: string, nextProbeAt: number): AttemptError => ({
  kind: "circuit_open", retryable: true, message: `circuit ${circuit} is OPEN; next probe at ${new Date(nextProbeAt).toISOString()}`,
});

export const deadlinePassed = (g: GenerationEntity): boolean => !!g.deadlineAt && Date.now() >= g.deadlineAt.getTime();

export const deadlineError = (provider: string) =>
  new ProviderError({ provider, kind: "timeout", retryable: false, message: "The request's deadline passed before it finished (deadlineSeconds); the upstream call was aborted" });

/** What an upstream call threw, as a ProviderError (a cancel, the attempt's timeout, or an internal error). */
export function classify(e: unknown, provider: string, cancelled: boolean, timedOut: boolean): ProviderError {
  if (cancelled) return new ProviderError({ provider, kind: "cancelled", message: "cancelled" });
  if (e instanceof ProviderError) {
    if (e.kind === "cancelled" && timedOut) return new ProviderError({ provider, kind: "timeout", message: "the provider did not answer in time" });
    return e;
  }
  if (timedOut) return new ProviderError({ provider, kind: "timeout", message: "the provider did not answer in time" });
  return new ProviderError({ provider, kind: "unavailable", message: `internal error: ${(e as Error)?.message ?? String(e)}` });
}
