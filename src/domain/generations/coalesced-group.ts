/**
 * The followers of a coalesced group: generations whose identical request joined a leader's
 * in-flight upstream work. They run, stream and finish with it; each has its own row,
 * events and reservation, and only the payer (see CHARGE_LEDGER) is charged.
 */
import type { DataSource } from "typeorm";
import { GenerationEntity, type StoredOutput } from "../../db/entities/generation.entity";
import { rowToEntity } from "../../db/row-mapper";
import type { EventBus, EventInit } from "../../realtime/event-bus";
import { Topic } from "../../realtime/topics";
import { RELEASE_AND_SELECT } from "../quotas/release.sql";
import type { QuotaService } from "../quotas/quota.service";

export type GroupOutcome =
  | { status: "SUCCEEDED"; output: StoredOutput }
  | { status: "FAILED"; code: string; message: string };

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

  private constructor(private readonly ds: DataSource, private readonly bus: EventBus, private readonly leader: GenerationEntity) {}

  static async start(ds: DataSource, bus: EventBus, leader: GenerationEntity): Promise<Followers> {
    const f = new Followers(ds, bus, leader);
    // Subscribe before reading, so a follower joining in between is not missed (seen dedupes).
    f.unsubscribe = await bus.subscribe(Topic.GROUP_JOINED, leader.id, ({ generationId }) => void f.adopt(generationId).catch(() => undefined));
    await f.adopt(null);
    return f;
  }

  private async adopt(id: string | null): Promise<void> {
    const res = await this.ds.query(
      `UPDATE generations SET status = 'RUNNING', progress = 0, started_at = COALESCE(started_at, now()), updated_at = now()
        WHERE group_id = $1 AND ($2::uuid IS NULL OR id = $2::uuid) AND status IN ('QUEUED','RUNNING') RETURNING *`,
      [this.leader.id, id],
    );
    for (const r of res[0] ?? []) {
      const m = rowToEntity(this.ds, GenerationEntity, r);
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
    this.unsubscribe();
  }
}

/** Ends every follower still waiting with the leader's outcome; returns how many. */
export async function finishFollowers(
  ds: DataSource, bus: EventBus, quotas: QuotaService, leaderId: string, outcome: GroupOutcome, lastSeq?: ReadonlyMap<string, number>,
): Promise<GenerationEntity[]> {
  const ok = outcome.status === "SUCCEEDED";
  const rows: Record<string, unknown>[] = await ds.query(
    `WITH g AS (
       UPDATE generations f SET status = $2, output = $3, error_code = $4, error_message = $5,
              progress = CASE WHEN $2 = 'SUCCEEDED' THEN 1 ELSE f.progress END,
              cost_micros = (SELECT COALESCE(SUM(l.amount_micros), 0) FROM spend_ledger l WHERE l.generation_id = f.id AND l.kind = 'charge'),
              cache_hit = CASE WHEN $2 = 'SUCCEEDED' THEN jsonb_build_object('kind', 'COALESCED', 'similarity', 1, 'sourceGenerationId', $1::text) END,
              completed_at = now(), updated_at = now()
        WHERE f.group_id = $1 AND f.status IN ('QUEUED','RUNNING') RETURNING *
     ) ${RELEASE_AND_SELECT}`,
    [leaderId, outcome.status, ok ? JSON.stringify(outcome.output) : null, ok ? null : outcome.code, ok ? null : outcome.message.slice(0, 1000)],
  );
  const done = rows.map((r) => rowToEntity(ds, GenerationEntity, r));
  for (const g of done) {
    await bus.publishGenerationEvent(g, { type: g.status as "SUCCEEDED" | "FAILED", message: ok ? "shared the upstream work of an identical request" : outcome.message }, { floor: lastSeq?.get(g.id) });
    quotas.changed(g.userId, false);
  }
  return done;
}

/**
 * The leader is gone (cancelled before it ran, or finished just before a follower joined):
 * the oldest waiting follower leads the group from now on. Returns its id and priority.
 */
export async function promoteHeir(ds: DataSource, leaderId: string): Promise<{ id: string; priority: GenerationEntity["priority"] } | null> {
  const rows = await ds.query(
    `WITH old AS (SELECT cache_key, semantic_scope FROM generations WHERE id = $1),
     f AS (SELECT id FROM generations WHERE group_id = $1 AND status IN ('QUEUED','RUNNING') ORDER BY created_at LIMIT 1 FOR UPDATE),
     p AS (
       UPDATE generations SET group_id = NULL, cache_key = (SELECT cache_key FROM old), semantic_scope = (SELECT semantic_scope FROM old)
        WHERE id = (SELECT id FROM f) RETURNING id, priority
     ), rest AS (
       UPDATE generations SET group_id = (SELECT id FROM f) WHERE group_id = $1 AND id <> (SELECT id FROM f)
     )
     SELECT id, priority FROM p`,
    [leaderId],
  );
  return rows[0] ?? null;
}
