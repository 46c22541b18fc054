/**
 * One generation's events as an async iterator, for every transport that follows a generation
 * (the GraphQL subscription generationUpdated, the /v1 streams).
 */
import { createPushIterator } from "../common/push-iterator";
import type { EventBus } from "./event-bus";
import { TERMINAL_EVENT_TYPES, toEventView, type GenerationEventPayload, type GenerationView } from "./generation-event";
import { Topic } from "./topics";

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
    const { seq, text } = await bus.readStream(gen.id);
    const fresh = await reload();
    lastSeq = seq;
    it.push({
      seq, type: "SNAPSHOT", generationId: fresh.id, userId: fresh.userId, at: new Date().toISOString(),
      progress: fresh.progress, text: fresh.output?.text ?? text, generation: toEventView(fresh),
    });
    if (["SUCCEEDED", "FAILED", "CANCELLED"].includes(fresh.status)) it.end();
    ready = true;
    for (const ev of pending) deliver(ev);
  } catch (err) {
    it.fail(err);
  }
  return it;
}
