/**
 * One generation's events as an async iterator, for every transport that follows a generation
 * (the GraphQL subscription generationUpdated, the /v1 streams).
 */
import { createPushIterator } from "../common/push-iterator";
import type { EventBus } from "./event-bus";
import { TERMINAL_EVENT_TYPES, toEventView, type GenerationEventPayload, type GenerationView } from "./generation-event";
import { Topic } from "./topics";

/**
 * Calls with the same key asked for in one event-loop turn share one call, made once that turn is
 * over (setImmediate); a call asked for after that starts a new batch. So the one call starts
 * after every caller of its batch asked for it: what each caller did before asking (subscribing,
 * say) happened before the shared read, as if each had read alone. A DataLoader without its cache.
 */
export function coalescePerTurn<A, T>(fn: (arg: A) => Promise<T>): (key: string, arg: A) => Promise<T> {
  let batch: Map<string, { promise: Promise<T>; run: () => void }> | null = null;
  return (key, arg) => {
    if (!batch) {
      const b = (batch = new Map());
      setImmediate(() => {
        batch = null;
        for (const call of b.values()) call.run();
      });
    }
    let call = batch.get(key);
    if (!call) {
      let run!: () => void;
      const promise = new Promise<T>((resolve, reject) => (run = () => void Promise.resolve(arg).then(fn).then(resolve, reject)));
      batch.set(key, (call = { promise, run }));
    }
    return call.promise;
  };
}

/** Per bus: the stream reads of one generation asked for in one turn (its followers subscribing together), one read. */
const streamReads = new WeakMap<object, (key: string, id: string) => Promise<{ seq: number; text: string }>>();
function readStreamShared(bus: Pick<EventBus, "readStream">, id: string): Promise<{ seq: number; text: string }> {
  let read = streamReads.get(bus);
  if (!read) streamReads.set(bus, (read = coalescePerTurn((g: string) => bus.readStream(g))));
  return read(id, id);
}

/**
 * The SNAPSHOT made of one stream read and one reload. Followers that shared both (subscribing in
 * the same turn, as the same viewer) share the event object too, and with it its execution and
 * serialisation (shared-execution.ts shares those per event object and group of subscriptions).
 */
const snapshots = new WeakMap<GenerationView, WeakMap<object, GenerationEventPayload>>();
function snapshotOf(read: { seq: number; text: string }, fresh: GenerationView): GenerationEventPayload {
  let byRead = snapshots.get(fresh);
  if (!byRead) snapshots.set(fresh, (byRead = new WeakMap()));
  let snapshot = byRead.get(read);
  if (!snapshot) {
    snapshot = {
      seq: read.seq, type: "SNAPSHOT", generationId: fresh.id, userId: fresh.userId, at: new Date().toISOString(),
      progress: fresh.progress, text: fresh.output?.text ?? read.text, generation: toEventView(fresh),
    };
    byRead.set(read, snapshot);
  }
  return snapshot;
}

/**
 * Subscribe first, then emit a SNAPSHOT (state, text so far, its seq), then live events
 * with a higher seq. Ends after the terminal event; return() (the client gone) unsubscribes.
 *
 * @param reload - the generation as it is now (checked for the viewer), read after subscribing.
 */
export async function followGeneration(
  bus: Pick<EventBus, "subscribe" | "readStream">, gen: Pick<GenerationView, "id">, reload: () => Promise<GenerationView>,
): Promise<AsyncIterableIterator<GenerationEventPayload>> {
  let ready = false;
  let lastSeq = 0;
  const pending: GenerationEventPayload[] = [];
  let unsubscribe: () => void = () => undefined;
  const it = createPushIterator<GenerationEventPayload>(() => unsubscribe());
  const deliver = (ev: GenerationEventPayload) => {
    if (ev.seq <= lastSeq) return;
    lastSeq = ev.seq;
    it.push(ev);
    if (TERMINAL_EVENT_TYPES.has(ev.type)) it.end();
  };
  unsubscribe = await bus.subscribe(Topic.GENERATION_EVENT, gen.id, (ev) => (ready ? deliver(ev) : pending.push(ev)));
  try {
    // Read after subscribing; the followers of this generation subscribing in the same turn share the read.
    const read = await readStreamShared(bus, gen.id);
    const fresh = await reload();
    lastSeq = read.seq;
    it.push(snapshotOf(read, fresh));
    if (["SUCCEEDED", "FAILED", "CANCELLED"].includes(fresh.status)) it.end();
    ready = true;
    for (const ev of pending) deliver(ev);
  } catch (err) {
    it.fail(err);
  }
  return it;
}

/** How long a generation's events wait for a subscription taken before it existed ({@link subscribeBeforeCreate}). */
export const EARLY_SUBSCRIBE_WAIT_MS = 2_000;

/** A subscription to a generation's events taken before the generation existed ({@link subscribeBeforeCreate}). */
export interface EarlyFollower {
  /**
   * The events, once the generation it was taken for is created: a SNAPSHOT of `created` (seq 0:
   * nothing had gone out before the subscription), then every event in seq order, ending after the
   * terminal one. Return() unsubscribes.
   */
  follow(created: GenerationView): AsyncIterableIterator<GenerationEventPayload>;
  /** Not needed after all (the request failed, or its answer has another id): unsubscribes. */
  drop(): void;
}

/**
 * Subscribes to the events of a generation about to be created with id `id` (CreateHooks.beforeEvents):
 * live once this resolves, so no event of it can be missed and {@link followGeneration}'s snapshot
 * reads (the stream's seq and text, the row) are not needed. Resolves with null when the
 * subscription fails or is not live within {@link EARLY_SUBSCRIBE_WAIT_MS}: the caller follows the
 * generation the usual way then.
 */
export async function subscribeBeforeCreate(bus: Pick<EventBus, "subscribe">, id: string): Promise<EarlyFollower | null> {
  let lastSeq = 0;
  let it: ReturnType<typeof createPushIterator<GenerationEventPayload>> | null = null;
  const pending: GenerationEventPayload[] = [];
  const deliver = (ev: GenerationEventPayload) => {
    if (ev.seq <= lastSeq) return;
    lastSeq = ev.seq;
    it!.push(ev);
    if (TERMINAL_EVENT_TYPES.has(ev.type)) it!.end();
  };
  const subscribing = bus.subscribe(Topic.GENERATION_EVENT, id, (ev) => (it ? deliver(ev) : pending.push(ev)));
  let timer: NodeJS.Timeout | undefined;
  // The generation's events wait for this: a subscription Redis is slow to acknowledge gives up after a while,
  // so the generation goes on (its stream is then followed the usual way, snapshot first).
  const late = new Promise<null>((resolve) => (timer = setTimeout(resolve, EARLY_SUBSCRIBE_WAIT_MS, null)));
  const unsubscribe = await Promise.race([subscribing, late]).catch(() => null).finally(() => clearTimeout(timer));
  if (!unsubscribe) {
    subscribing.then((un) => un(), () => undefined); // taken too late: not used
    return null;
  }
  return {
    follow(created) {
      it = createPushIterator<GenerationEventPayload>(() => unsubscribe());
      it.push(snapshotOf({ seq: 0, text: "" }, created));
      if (["SUCCEEDED", "FAILED", "CANCELLED"].includes(created.status)) it.end();
      for (const ev of pending) deliver(ev);
      return it;
    },
    drop: () => unsubscribe(),
  };
}
