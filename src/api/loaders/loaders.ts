/**
 * DataLoaders, created per operation, never per connection. A subscription is one operation:
 * it keeps its loaders for its whole life and calls `forEvent` before each event resolves,
 * which empties them unless the event continues a DELTA streak (see forEvent).
 */
import DataLoader from "dataloader";
import type { GenerationAttemptEntity } from "../../db/entities/generation-attempt.entity";
import type { UserEntity } from "../../db/entities/user.entity";

/** Where the loaders read (the generation and user stores; api/ never issues SQL itself). */
export interface LoaderReads {
  /** These users; unknown ids are left out. */
  usersByIds(ids: readonly string[]): Promise<UserEntity[]>;
  /** The attempts of these generations, in attempt order. */
  attemptsOf(generationIds: readonly string[]): Promise<GenerationAttemptEntity[]>;
}

export function createLoaders(reads: LoaderReads) {
  const user = new DataLoader<string, UserEntity | null>(async (ids) => {
    const rows = await reads.usersByIds(ids);
    const byId = new Map(rows.map((r) => [r.id, r]));
    return ids.map((id) => byId.get(id) ?? null);
  });
  const attempts = new DataLoader<string, GenerationAttemptEntity[]>(async (ids) => {
    const rows = await reads.attemptsOf(ids);
    const by = new Map<string, GenerationAttemptEntity[]>(ids.map((id) => [id, []]));
    for (const r of rows) by.get(r.generationId)?.push(r);
    return ids.map((id) => by.get(id)!);
  });
  /** Per generation, the seq of its last event this subscription resolved, while that event was a DELTA. */
  const lastDelta = new Map<string, number>();
  return {
    user,
    attempts,
    /**
     * A subscription event is about to resolve. Attempts (and the user) change while a generation
     * runs, so an event reads them afresh, as if its loaders were new — except a DELTA that
     * directly follows (seq + 1) a DELTA of the same generation: that is the same upstream call
     * streaming on, and no attempt row changes in the middle of a call (a call ends, and the next
     * one begins, with a settle followed by RESTARTED, FALLBACK, RETRYING or a terminal event,
     * before any text of another call: the client protocol relies on that too). So a streamed
     * answer costs its reads once, not once per delta. PROGRESS is not cached so: a call that
     * reported only progress can fail and go on with another key (a new attempt) with no event in
     * between. A streak's cache holds only generations streaming right now: any other event
     * empties both loaders.
     */
    forEvent(ev: { generationId: string; seq: number; type: string }): void {
      const continues = ev.type === "DELTA" && lastDelta.get(ev.generationId) === ev.seq - 1;
      if (ev.type === "DELTA") lastDelta.set(ev.generationId, ev.seq);
      else lastDelta.delete(ev.generationId);
      if (continues) return;
      user.clearAll();
      attempts.clearAll();
    },
  };
}

export type Loaders = ReturnType<typeof createLoaders>;
