/**
 * A /v1 request as a Generation: created through GenerationService (so it is routed with
 * fallback, under breakers, key pools, rate limits, budgets and the cache, in history and
 * analytics, visible to subscriptions), tagged with its API (`source`) and the request id.
 * Two ways to answer: wait for the terminal state ({@link runToTerminal}), or follow its events
 * ({@link followGeneration}: a SNAPSHOT with the text so far, then live events, gap-free by seq).
 */
import type { Services } from "../../api/services";
import { GenerationEntity, TERMINAL_STATUSES } from "../../db/entities/generation.entity";
import type { CreateGenerationCommand, GenerationSource } from "../../domain/generations/create-generation.command";
import type { CreateHooks } from "../../domain/generations/create-generation.command";
import type { Viewer } from "../../domain/viewer";
import { followGeneration as follow, subscribeBeforeCreate, type EarlyFollower } from "../../realtime/follow-generation";
import type { GenerationEventPayload, GenerationView } from "../../realtime/generation-event";
import { HttpError } from "../http-utils";

export type { GenerationSource } from "../../domain/generations/create-generation.command";

/** What a /v1 handler needs of the app. */
export type V1Services = Pick<Services, "generations" | "bus" | "newLoaders" | "registry" | "router" | "config">;

/** The command for a /v1 request: its API's fields mapped, plus where it came from. */
export type V1Command = Omit<CreateGenerationCommand, "source" | "wait">;

/**
 * Creates the generation and waits for its terminal state: at most MAX_WAIT_SECONDS, or the
 * request's deadlineSeconds when shorter (the generation then ends DEADLINE_EXCEEDED itself).
 *
 * @returns the terminal generation (SUCCEEDED, FAILED or CANCELLED: the caller maps failures).
 * @param hooks - e.g. client-gone.ts's (cancels it when the client leaves while it runs).
 * @throws the domain's errors (BAD_USER_INPUT, FORBIDDEN, RATE_LIMITED, QUEUE_FULL, QUOTA_EXCEEDED, …);
 *   HttpError 504 TIMEOUT when it is still running after the wait (it goes on; its id is in the message).
 */
export async function runToTerminal(s: V1Services, viewer: Viewer, source: GenerationSource, cmd: V1Command, hooks?: CreateHooks): Promise<GenerationView> {
  const max = Math.max(1, s.config.limits.maxWaitSeconds);
  // A little past the deadline, so the generation's own DEADLINE_EXCEEDED is what the client sees.
  const wait = cmd.deadlineSeconds ? Math.min(max, cmd.deadlineSeconds + 2) : max;
  const gen = await s.generations.create(viewer, { ...cmd, source, wait }, hooks);
  if (!TERMINAL_STATUSES.includes(gen.status))
    throw new HttpError(504, "TIMEOUT", `Generation ${gen.id} did not finish within ${wait}s; it goes on (read it with GraphQL: generation(id: "${gen.id}"))`, { generationId: gen.id });
  return gen;
}

/**
 * A terminal generation with its whole stored output (finish reason, tool calls: what the /v1 answers need): an
 * in-process run's row, and a terminal event's view from this version (`output.whole`), are answered as they are;
 * only a view from an older process (a rolling deploy) is read again as the row.
 */
export async function withWholeOutput<G extends GenerationView>(s: Pick<Services, "generations">, viewer: Viewer, g: G): Promise<G | GenerationEntity> {
  if (g instanceof GenerationEntity || !g.output || g.output.whole) return g;
  return s.generations.get(viewer, g.id);
}

/** How many upstream calls a generation made (the `x-switchboard-attempts` header). */
export async function attemptsOf(s: Pick<Services, "generations">, gen: Pick<GenerationView, "id"> & { attemptCount?: number }): Promise<number> {
  // An in-process run's answer is the row its success transition returned, which counted them (no read).
  return gen.attemptCount ?? s.generations.attemptCount(gen.id);
}

/**
 * Creates the generation without waiting (a stream follows it with {@link followGeneration}); it runs
 * in this process when a local slot is free (the fast sync path), else through the queue. Background
 * work (it outlives the request) always takes the queue: the API node's slots are for callers that wait.
 */
export function startGeneration(s: V1Services, viewer: Viewer, source: GenerationSource, cmd: V1Command, hooks?: CreateHooks) {
  return s.generations.create(viewer, { ...cmd, source, follow: !cmd.background }, hooks);
}

/**
 * A generation's events, the GraphQL subscription's protocol (realtime/follow-generation.ts):
 * a SNAPSHOT (state, text streamed so far, its seq), then live events with a higher seq; ends
 * after the terminal event. Return() (a client gone) unsubscribes.
 *
 * @param reload - the generation as it is now (checked for the viewer), read after subscribing.
 */
export function followGeneration(
  s: Pick<Services, "bus">, gen: Pick<GenerationView, "id">, reload: () => Promise<GenerationView>,
): Promise<AsyncIterableIterator<GenerationEventPayload>> {
  return follow(s.bus, gen, reload);
}

/**
 * {@link startGeneration} and {@link followGeneration} in one, for a stream that answers the request
 * creating the generation: it subscribes to the new id before any of its events goes out (while the
 * rate limit and admission run), so it needs no snapshot reads. An answer with another id (a cache hit,
 * an idempotent replay) or a failed early subscription is followed the usual way.
 */
export async function startAndFollow(
  s: V1Services, viewer: Viewer, source: GenerationSource, cmd: V1Command, hooks?: CreateHooks,
): Promise<{ gen: GenerationEntity; events: AsyncIterableIterator<GenerationEventPayload> }> {
  let early: Promise<EarlyFollower | null> | undefined;
  let earlyId: string | undefined;
  const beforeEvents = (id: string) => {
    earlyId = id;
    return (early = subscribeBeforeCreate(s.bus, id));
  };
  let gen: GenerationEntity;
  try {
    gen = await startGeneration(s, viewer, source, cmd, { ...hooks, beforeEvents });
  } catch (err) {
    void early?.then((f) => f?.drop());
    throw err;
  }
  const follower = early ? await early : null;
  if (follower && gen.id === earlyId) return { gen, events: follower.follow(gen) };
  follower?.drop();
  return { gen, events: await followGeneration(s, gen, () => s.generations.get(viewer, gen.id)) };
}
