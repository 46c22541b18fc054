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
