/**
 * Re-check delays for async upstream tasks (Replicate predictions, MiniMax video): the first
 * re-check after `min`, each later one POLL_GROWTH× the previous, capped at `max`.
 */
import type { AdapterSettings } from "../adapter-settings";
import type { PendingTask } from "../contract";

/** Each re-check of a still-running task waits this much longer than the previous one. */
export const POLL_GROWTH = 1.5;

export interface PollBackoff {
  min: number;
  max: number;
}

/** The configured bounds (AdapterSettings.pollMinMs / pollMaxMs), else the adapter's defaults; max is never below min. */
export function pollBackoff(settings: Pick<AdapterSettings, "pollMinMs" | "pollMaxMs">, defaultMin: number, defaultMax: number): PollBackoff {
  const min = settings.pollMinMs ?? defaultMin;
  return { min, max: Math.max(min, settings.pollMaxMs ?? defaultMax) };
}

/** The wait before the next re-check, after `polls` re-checks so far (0: the task was just created). */
export function nextCheckMs(b: PollBackoff, polls: number): number {
  return polls === 0 ? b.min : Math.min(b.max, Math.round(b.min * POLL_GROWTH ** polls));
}

/** The number of this re-check: one more than the task's state says were done. */
export function pollNumber(task: PendingTask): number {
  return (typeof task.state?.polls === "number" ? task.state.polls : 0) + 1;
}
