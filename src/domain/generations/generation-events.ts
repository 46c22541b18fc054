/**
 * The one place that publishes a generation's events. The pub/sub transport (EventBus) only
 * numbers, stores and sends them; what the product does when a generation ends — webhook
 * deliveries, cost metrics, the failure log line — are listeners registered here, run in the
 * process that publishes the terminal event (exactly one process per transition: transitions
 * are conditional updates on status and run attempt).
 *
 * The callers' contract: publish a state's event after the store's transition that made it
 * has committed (a subscriber that reloads on the event sees that state or a later one), and
 * in state order (QUEUED first, the terminal event last): the seq order is the publish order.
 * An event's payload is the generation's view (GenerationView), never the whole row.
 */
import type { GenerationEntity } from "../../db/entities/generation.entity";
import type { EventBus, EventInit, PublishOptions, Published } from "../../realtime/event-bus";
import { TERMINAL_EVENT_TYPES } from "../../realtime/generation-event";
import type { Topic, TopicPayloads } from "../../realtime/topics";

export type { EventInit, PublishOptions, Published } from "../../realtime/event-bus";

export type TerminalType = "SUCCEEDED" | "FAILED" | "CANCELLED";

/** Told of every terminal transition, with the row as the transition left it. Must not throw or block. */
export type TerminalListener = (g: GenerationEntity, type: TerminalType) => void;

/** Topics other than a generation's own events (those are published only through publishEvent). */
type OtherTopic = Exclude<Topic, Topic.GENERATION_EVENT | Topic.USER_GENERATION_EVENT>;

export class GenerationEvents {
  private readonly terminalListeners: TerminalListener[] = [];

  constructor(private readonly bus: EventBus) {}

  /** Runs `fn` in the process that publishes a generation's terminal event. Webhooks, metrics and the failure log hang off it. */
  onTerminal(fn: TerminalListener): void {
    this.terminalListeners.push(fn);
  }

  /** Publishes one generation event to its own and its owner's channel; returns its seq (0: not published). */
  async publishGenerationEvent(g: GenerationEntity, ev: EventInit, opts: PublishOptions = {}): Promise<number> {
    return (await this.publishEvent(g, ev, opts)).seq;
  }

  /** {@link publishGenerationEvent}, also saying whether the counter had to be restored. */
  async publishEvent(g: GenerationEntity, ev: EventInit, opts: PublishOptions = {}): Promise<Published> {
    if (TERMINAL_EVENT_TYPES.has(ev.type)) this.notifyTerminal(g, ev.type as TerminalType);
    return this.bus.sendEvent(g, ev, opts);
  }

  /**
   * Publishes a terminal generation's terminal event again if it is not known to have gone out
   * (EventBus.resendTerminal). Listeners run only when it certainly had not gone out. Returns
   * whether it was published.
   */
  async republishTerminal(g: GenerationEntity): Promise<boolean> {
    const { published, wasOpen } = await this.bus.resendTerminal(g);
    if (wasOpen) this.notifyTerminal(g, g.status as TerminalType);
    return published;
  }

  /** Generations whose stream opened (QUEUED) before `beforeMs` and has not ended (no terminal event yet). */
  openStreams(beforeMs: number, limit: number): Promise<string[]> {
    return this.bus.openStreams(beforeMs, limit);
  }

  /** Marks open streams as checked now (the sweeper looks at them again a grace period later). */
  touchOpenStreams(ids: string[]): Promise<void> {
    return this.bus.touchOpenStreams(ids);
  }

  /** Forgets open streams of generations that no longer exist. */
  forgetOpenStreams(ids: string[]): Promise<void> {
    return this.bus.forgetOpenStreams(ids);
  }

  /** The last seq and the text streamed so far, read atomically. */
  readStream(generationId: string): Promise<{ seq: number; text: string }> {
    return this.bus.readStream(generationId);
  }

  /** Subscribes to any topic (a generation's events included); resolves once Redis acknowledged it. */
  subscribe<T extends Topic>(topic: T, id: string | undefined, onMessage: (p: TopicPayloads[T]) => void): Promise<() => void> {
    return this.bus.subscribe(topic, id, onMessage);
  }

  /** Publishes on another topic (group joins, cancels); a generation's own events go through publishEvent. */
  publish<T extends OtherTopic>(topic: T, id: string | undefined, payload: TopicPayloads[T]): Promise<void> {
    return this.bus.publish(topic, id, payload);
  }

  private notifyTerminal(g: GenerationEntity, type: TerminalType): void {
    for (const fn of this.terminalListeners) {
      try {
        fn(g, type);
      } catch {
        /* a listener never breaks the event itself */
      }
    }
  }
}
