import { performance } from "node:perf_hooks";
import { ProviderError } from "../contract";

/** setTimeout's ceiling; longer waits would fire at once, so they just await the signal. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The error for an aborted call: kind "timeout" when the signal's reason is a TimeoutError
 * (as from `AbortSignal.timeout()`), otherwise "cancelled".
 */
export function abortError(signal: AbortSignal, provider: string): ProviderError {
  const reasonName = (signal.reason as { name?: unknown } | undefined)?.name;
  return reasonName === "TimeoutError"
    ? new ProviderError({ provider, kind: "timeout", message: "simulated call timed out (signal)" })
    : new ProviderError({ provider, kind: "cancelled", message: "simulated call cancelled" });
}

/** Resolves after `ms`, or rejects with {@link abortError} as soon as `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal, provider: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(abortError(signal, provider));
    let timer: NodeJS.Timeout | undefined;
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortError(signal, provider));
    };
    if (ms <= MAX_TIMER_MS) {
      timer = setTimeout(() => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      }, Math.max(0, ms));
    }
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Runs `onStep(1..steps)`, spreading `latencyMs` evenly over the steps (against a fixed
 * schedule, so timer jitter does not accumulate). With `latencyMs` 0 no timer is used at all:
 * that path is benchmarked at thousands of calls per second.
 *
 * @param stopAfter - run only the first `stopAfter` steps (a simulated cut), default all.
 * @throws ProviderError from {@link abortError} when `signal` aborts.
 */
export async function paced(
  steps: number,
  latencyMs: number,
  signal: AbortSignal,
  provider: string,
  onStep: (step: number) => void,
  stopAfter = steps,
): Promise<void> {
  const start = performance.now();
  for (let i = 1; i <= Math.min(steps, stopAfter); i++) {
    if (signal.aborted) throw abortError(signal, provider);
    if (latencyMs > 0) {
      const due = start + (latencyMs * i) / steps;
      await sleep(due - performance.now(), signal, provider);
    }
    onStep(i);
  }
}
