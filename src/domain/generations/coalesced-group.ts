/**
 * The followers of a coalesced group: generations whose identical request joined a leader's
 * in-flight upstream work. They run, stream and finish with it; each has its own row,
 * events and reservation, and only the payer (see CHARGE_LEDGER in generation.store.ts) is charged.
 * Their rows move through GenerationStore (adoptFollowers, finishFollowers, promoteHeir).
 */
import type { GenerationEntity } from "../../db/entities/generation.entity";
import type { EventInit, GenerationEvents } from "./generation-events";
import { Topic } from "../../realtime/topics";
import type { QuotaService } from "../quotas/quota.service";
import type { GenerationStore, GroupOutcome } from "./generation.store";

export type { GroupOutcome };

/**
 * The followers of a running leader, current and joining: each is marked RUNNING, gets a
 * STARTED event and, if it joins mid-stream, one DELTA with the text so far, so its own
 * stream adds up to the answer. `close()` stops following joins.
 */
export class Followers {
  readonly members: GenerationEntity[] = [];
  private readonly seen = new Set<string>();
  /** The last seq this process published per follower: the floor a counter Redis lost restarts from (gap-free). */
  readonly lastSeq = new Map<string, number>();
  private unsubscribe: () => void = () => undefined;
  text = "";

  /** Resolves once the followers already waiting are adopted (rejects when that failed: the run fails, as when STARTED could not go out). */
  readonly ready: Promise<void>;

  private constructor(
    private readonly store: GenerationStore,
    private readonly bus: GenerationEvents,
    private readonly leader: GenerationEntity,
    /** The leader's STARTED: a follower hears of the run only after it. */
    private readonly started: Promise<unknown>,
  ) {
    this.ready = this.begin();
    this.ready.catch(() => undefined); // the run awaits it
  }

  /**
   * Starts following the leader's group at once, while the leader's STARTED goes out (and the breaker and key pool
   * are asked): the subscription and the read of the waiting followers are not round trips in a row after STARTED.
   */
  static start(store: GenerationStore, bus: GenerationEvents, leader: GenerationEntity, started: Promise<unknown>): Followers {
    return new Followers(store, bus, leader, started);
  }

  private async begin(): Promise<void> {
    // Subscribe before reading, so a follower joining in between is not missed (seen dedupes).
    this.unsubscribe = await this.bus.subscribe(Topic.GROUP_JOINED, this.leader.id, ({ generationId }) => void this.adopt(generationId).catch(() => undefined));
    await this.adopt(null);
  }

  private async adopt(id: string | null): Promise<void> {
    const adopted = await this.store.adoptFollowers(this.leader.id, id);
    if (adopted.length) await this.started;
    for (const m of adopted) {
      if (this.seen.has(m.id)) continue;
      this.seen.add(m.id);
      this.members.push(m);
      await this.publish(m, { type: "STARTED" });
      if (this.text) await this.publish(m, { type: "DELTA", delta: this.text });
    }
  }

  async delta(d: string): Promise<void> {
    this.text += d;
    for (const m of this.members) await this.publish(m, { type: "DELTA", delta: d });
  }

  async progress(p: number): Promise<void> {
    for (const m of this.members) await this.publish(m, { type: "PROGRESS", progress: p });
  }

  private async publish(m: GenerationEntity, ev: EventInit): Promise<void> {
    const seq = await this.bus.publishGenerationEvent(m, ev, { floor: this.lastSeq.get(m.id) ?? m.seqReserved ?? 0 });
    if (seq) this.lastSeq.set(m.id, Math.max(seq, this.lastSeq.get(m.id) ?? 0));
  }

  close(): void {
    // A subscription still being made is dropped once it is.
    void this.ready.then(() => this.unsubscribe(), () => this.unsubscribe());
  }
}

/** Ends every follower still waiting with the leader's outcome; returns how many. */
export async function finishFollowers(
  store: GenerationStore, bus: GenerationEvents, quotas: QuotaService, leaderId: string, outcome: GroupOutcome, lastSeq?: ReadonlyMap<string, number>,
): Promise<GenerationEntity[]> {
  const ok = outcome.status === "SUCCEEDED";
  const done = await store.finishFollowers(leaderId, outcome);
  for (const g of done) {
    await bus.publishGenerationEvent(g, { type: g.status as "SUCCEEDED" | "FAILED", message: ok ? "shared the upstream work of an identical request" : outcome.message }, { floor: lastSeq?.get(g.id) });
    quotas.changed(g.userId, false);
  }
  return done;
}
