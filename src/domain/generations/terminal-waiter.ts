import { TERMINAL_STATUSES, type GenerationEntity } from "../../db/entities/generation.entity";
import { fromEventView, TERMINAL_EVENT_TYPES } from "../../realtime/generation-event";
import { Topic } from "../../realtime/topics";
import type { GenerationEvents } from "./generation-events";

export interface TerminalWaiter {
  /** Resolves with the terminal state, or null after `ms`; unsubscribes either way. */
  wait(ms: number): Promise<GenerationEntity | null>;
  cancel(): void;
}

/** Subscribes to a generation's events (createGeneration's `wait`); `wait` resolves with the terminal state or null on timeout. */
export async function terminalWaiter(events: Pick<GenerationEvents, "subscribe">, id: string): Promise<TerminalWaiter> {
  let resolve!: (g: GenerationEntity | null) => void;
  const done = new Promise<GenerationEntity | null>((r) => (resolve = r));
  const unsubscribe = await events.subscribe(Topic.GENERATION_EVENT, id, (ev) => {
    if (TERMINAL_EVENT_TYPES.has(ev.type)) resolve(fromEventView(ev.generation) as GenerationEntity); // the view: every field GraphQL reads, all a waiter returns
  });
  let timer: NodeJS.Timeout | undefined;
  const cancel = () => {
    clearTimeout(timer);
    unsubscribe();
    resolve(null);
  };
  return {
    cancel,
    wait: async (ms: number) => {
      timer = setTimeout(() => resolve(null), ms);
      try {
        return await done;
      } finally {
        cancel();
      }
    },
  };
}

/**
 * Waits up to `ms` for a generation that is not terminal yet: subscribes, then reads it again
 * (it may have finished before the subscription); the terminal state, or the row as it is then.
 */
export async function waitForTerminal(events: Pick<GenerationEvents, "subscribe">, reload: (id: string) => Promise<GenerationEntity>, id: string, ms: number): Promise<GenerationEntity> {
  const waiter = await terminalWaiter(events, id);
  const fresh = await reload(id);
  if (TERMINAL_STATUSES.includes(fresh.status)) {
    waiter.cancel();
    return fresh;
  }
  return (await waiter.wait(ms)) ?? (await reload(id));
}
