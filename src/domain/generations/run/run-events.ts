/**
 * The events of one run, published in order with the seq the run knows: the floor a lost
 * Redis counter restarts from is the last seq this run got back (or, before its first event,
 * the ceiling earlier runs reserved), so seq never goes backwards and stays gap-free. The run
 * keeps Postgres's `seq_reserved` ahead of its own seqs (a block at the claim, another UPDATE
 * only every SEQ_BLOCK events), so any other publisher restoring from the row lands above them.
 * After Redis lost the stream mid-answer it re-sends the text so far (RESTARTED, then one DELTA
 * with everything), so every subscriber, early or late, rebuilds the whole text.
 */
import type { GenerationEntity } from "../../../db/entities/generation.entity";
import type { EventInit, GenerationEvents, PublishOptions } from "../generation-events";
import { SEQ_BLOCK, type GenerationStore } from "../generation.store";

/** Seqs kept in hand for what follows the last event published while RUNNING (a restore's two, a final one). */
const HEADROOM = 8;

/** Events published while the run owns the generation (RUNNING): the run may still reserve seqs for them. */
const WHILE_RUNNING = new Set<EventInit["type"]>(["STARTED", "DELTA", "PROGRESS", "FALLBACK", "RESTARTED"]);

export class RunEvents {
  private last: number;
  /** Text streamed by the current attempt (what a restore re-sends). */
  private text = "";

  constructor(
    private readonly bus: GenerationEvents,
    private readonly store: GenerationStore,
    private readonly generationId: string,
    readonly runAttempt: number,
    floor: number,
    private reserved: number,
  ) {
    this.last = floor;
  }

  /** An event of this run that went out through another publisher (its STARTED, published with the QUEUED): its seq is the floor from now on. */
  published(seq: number, type: "STARTED"): void {
    this.last = Math.max(this.last, seq);
    if (type === "STARTED") this.text = "";
  }

  /** Publishes one event of this run; its seq (0: not published — the run no longer owns the generation). */
  async emit(g: GenerationEntity, ev: EventInit, opts: Omit<PublishOptions, "floor"> = {}): Promise<number> {
    if (WHILE_RUNNING.has(ev.type) && this.last + HEADROOM > this.reserved) {
      const ceiling = await this.store.reserveSeqs(this.generationId, this.runAttempt, SEQ_BLOCK);
      if (ceiling === null) return 0;
      this.reserved = ceiling;
    }
    const res = await this.bus.publishEvent(g, ev, { ...opts, floor: this.last, run: this.runAttempt });
    if (!res.seq) return 0;
    this.last = Math.max(this.last, res.seq);
    if (ev.type === "STARTED" || ev.type === "RESTARTED") this.text = "";
    else if (ev.type === "DELTA") this.text += ev.delta ?? "";
    if (res.restored && this.text && (ev.type === "DELTA" || ev.type === "PROGRESS" || ev.type === "FALLBACK")) {
      // Redis lost the stream: subscribers hold a prefix (or, subscribed meanwhile, nothing) of the text.
      const text = this.text;
      await this.emit(g, { type: "RESTARTED", message: "the event stream's state was lost; the text so far follows in one delta" });
      await this.emit(g, { type: "DELTA", delta: text });
    }
    return res.seq;
  }
}
