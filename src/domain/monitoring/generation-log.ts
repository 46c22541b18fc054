/**
 * One log line per failed generation, wherever it failed (runner, sweeper, coalesced
 * followers, admission): its id, error code and how many upstream attempts it made. Hooked on
 * GenerationEvents' terminal listeners, which run once per transition in the process that made it.
 */
import type { Logger } from "../../observability/logger";
import type { GenerationEvents } from "../generations/generation-events";
import type { GenerationStore } from "../generations/generation.store";
import { servedModel } from "./generation-metrics";

export function logFailedGenerations(events: GenerationEvents, store: Pick<GenerationStore, "upstreamCallCount">, log: Logger): void {
  events.onTerminal((g, type) => {
    if (type !== "FAILED") return;
    // Skipped candidates (open circuit, no key) are not calls: count the calls that went upstream.
    store.upstreamCallCount(g.id)
      .catch((): null => null)
      .then((attempts) =>
        log.warn(
          {
            generationId: g.id, userId: g.userId, errorCode: g.errorCode ?? "UNKNOWN", attempts, runs: g.runAttempt,
            provider: g.provider ?? undefined, model: servedModel(g), error: g.errorMessage?.slice(0, 300) ?? undefined,
          },
          `generation ${g.id} failed: ${g.errorCode ?? "UNKNOWN"} after ${attempts ?? "?"} attempt${attempts === 1 ? "" : "s"}`,
        ),
      );
  });
}
