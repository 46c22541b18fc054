/** The BullMQ worker for generations: maps runner outcomes (queueAction) to BullMQ's retry semantics. */
import { DelayedError, Job, Worker, type ConnectionOptions } from "bullmq";
import { queueAction, RetryLaterError } from "../domain/generations/run/outcome";
import type { GenerationRunner } from "../domain/generations/run/runner";
import type { Logger } from "../observability/logger";
import { ProviderError } from "../providers/contract";
import { BACKOFF_TYPE, GENERATIONS_QUEUE, type GenerationJobData } from "./queues";
import { jobSpan } from "../observability/tracing";
import { UserFairness } from "../domain/resilience/user-fairness";
import { QueueControl } from "../domain/generations/queue-control";
import { queuePrefix } from "./queue-prefix";

export interface GenerationWorkerSettings {
  connection: ConnectionOptions;
  prefix: string;
  concurrency: number;
  lockMs: number;
  maxStalled: number;
  backoffMs: number;
}

/** Exponential backoff with full jitter, or the provider's Retry-After when it sent one; never past the request's deadline. */
export function backoffDelay(attemptsMade: number, baseMs: number, err?: Error): number {
  const retry = err instanceof RetryLaterError ? err : undefined;
  const cap = retry?.maxDelayMs ?? Infinity;
  if (retry?.delayMs !== undefined) return Math.min(cap, Math.round(retry.delayMs));
  return Math.min(cap, Math.round(Math.random() * baseMs * 2 ** Math.max(0, attemptsMade - 1)));
}

function promoteParkedWith(worker: () => Worker<GenerationJobData>) {
  /** `first`: the parked job already taken off the list (releaseAndUnpark), null for none; undefined takes one now. */
  return async (fair: UserFairness, userId: string, first?: string | null): Promise<void> => {
    // The oldest parked job that is still delayed goes back to waiting (others were promoted or retried already).
    for (let id = first === undefined ? await fair.unpark(userId) : first; id; id = await fair.unpark(userId)) {
      const job = await Job.fromId<GenerationJobData>(worker() as never, id);
      if (job && (await job.isDelayed())) {
        await job.promote().catch(() => undefined);
        return;
      }
    }
  };
}

/** Queue controls at pickup (domain/generations/queue-control.ts): the pause holding a job, its parking, and the completion count. */
export type QueueGate = Pick<QueueControl, "heldFor" | "park" | "completed">;

export function createGenerationWorker(runner: GenerationRunner, s: GenerationWorkerSettings, log: Logger, fairness?: UserFairness, gate?: QueueGate): Worker<GenerationJobData> {
  const promoteParked = promoteParkedWith(() => worker);
  const worker: Worker<GenerationJobData> = new Worker<GenerationJobData>(
    GENERATIONS_QUEUE,
    // With tracing on, the run is a span continuing the trace of the enqueue (job.data.trace).
    (job: Job<GenerationJobData>, token?: string) => jobSpan(GENERATIONS_QUEUE, { ...job.data, attempt: job.attemptsMade + 1 }, (e) => e instanceof DelayedError, async (span) => {
      // Paused (the whole queue, or this generation's provider): parked in delayed, still QUEUED, until resumed.
      const held = gate ? await gate.heldFor(job.data.generationId) : null;
      if (held !== null) {
        await job.moveToDelayed(Date.now() + QueueControl.PARK_MS, token);
        if (await gate!.park(held, job.id!)) await job.promote().catch(() => undefined); // resumed meanwhile
        throw new DelayedError();
      }
      // Fairness: a user at their in-flight cap waits (in delayed) instead of taking another slot.
      const fair = fairness?.enabled && job.data.userId ? fairness : undefined;
      if (fair && !(await fair.acquire(job.data.userId!, job.id!))) {
        // Parked: promoted when one of the user's runs ends (or tried again after PARK_MS at the latest).
        await job.moveToDelayed(Date.now() + UserFairness.PARK_MS, token);
        if (await fair.park(job.data.userId!, job.id!)) await promoteParked(fair, job.data.userId!); // a slot freed meanwhile
        throw new DelayedError();
      }
      let outcome;
      try {
        outcome = await runner.run({
          generationId: job.data.generationId,
          isLastAttempt: job.attemptsMade + 1 >= (job.opts.attempts ?? 1),
        });
      } finally {
        void gate?.completed().catch(() => undefined); // the completion rate behind estimatedStartAt
        if (fair) {
          const parked = await fair.releaseAndUnpark(job.data.userId!, job.id!).catch(() => undefined);
          await promoteParked(fair, job.data.userId!, parked).catch(() => undefined);
        }
      }
      span?.setAttribute("switchboard.outcome", outcome.kind);
      const action = queueAction(outcome);
      if (action.kind === "retry") throw action.error; // BullMQ retries with BACKOFF_TYPE
      if (action.kind === "delay") {
        await job.moveToDelayed(Date.now() + action.delayMs, token);
        throw new DelayedError();
      }
      return outcome;
    }),
    {
      connection: s.connection,
      prefix: queuePrefix(s.prefix, GENERATIONS_QUEUE, s.connection),
      concurrency: s.concurrency,
      lockDuration: s.lockMs,
      stalledInterval: Math.max(500, Math.floor(s.lockMs / 2)),
      maxStalledCount: s.maxStalled,
      settings: {
        backoffStrategy: (attemptsMade: number, type?: string, err?: Error) =>
          type === BACKOFF_TYPE ? backoffDelay(attemptsMade, s.backoffMs, err) : s.backoffMs,
      },
    },
  );
  worker.on("failed", (job, err) => {
    // A retry the runner asked for is not a failure to log (the generation's events and attempts tell it).
    if (job && !(err instanceof RetryLaterError || err instanceof ProviderError)) log.error({ err, generationId: job.data.generationId }, "generation job failed");
  });
  worker.on("error", (err) => log.error({ err }, "generation worker error"));
  return worker;
}
