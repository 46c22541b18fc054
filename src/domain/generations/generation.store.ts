/**
 * The worker's hot SQL, batched: claims (and finishes) made by concurrent jobs in the same
 * event-loop turn go to Postgres as one statement each. Every row is still guarded by its
 * own conditions (status, run_attempt), exactly as a single-row statement would be.
 */
import type { DataSource } from "typeorm";
import { TickBatcher } from "../../common/tick-batcher";
import { GenerationEntity, type StoredOutput } from "../../db/entities/generation.entity";
import { rowToEntity } from "../../db/row-mapper";
import { CHARGE_LEDGER, CHARGE_RELEASE_AND_SELECT } from "../quotas/release.sql";

export interface Claim {
  gen: GenerationEntity;
  attemptNo: number;
  /** The row was RUNNING without an upstream task: the run that had it died (or lost its job) mid-way. */
  takenOver: boolean;
  /** At or above every seq published before this run (the run's own seqs are reserved up to gen.seqReserved). */
  seqFloor: number;
}

/** Event seqs a run reserves ahead in Postgres (one more UPDATE only after this many events). */
export const SEQ_BLOCK = 1000;

export interface Success {
  gen: GenerationEntity;
  attemptNo: number;
  output: StoredOutput;
  latencyMs: number;
  costMicros: number;
  keyLabel?: string;
}

const CLAIM_SQL = `
  WITH prev AS (
    -- the statement's snapshot: the status before this claim
    SELECT id, status FROM generations WHERE id = ANY($1::uuid[])
  ), g AS (
    UPDATE generations SET status = 'RUNNING', run_attempt = run_attempt + 1, progress = 0,
           started_at = COALESCE(started_at, now()), updated_at = now(), seq_reserved = seq_reserved + ${SEQ_BLOCK}
     WHERE id = ANY($1::uuid[]) AND status IN ('QUEUED','RUNNING') RETURNING *
  ), lost AS (
    -- an attempt still RUNNING when the job is claimed again belonged to a worker that died
    -- (unless an upstream task is pending: then its attempt goes on, re-checked by this run)
    UPDATE generation_attempts SET status = 'FAILED', error_kind = 'worker_lost',
           error_message = 'the worker running this attempt stopped before it finished'
     WHERE generation_id IN (SELECT id FROM g WHERE upstream_task IS NULL) AND status = 'RUNNING'
  ), a AS (
    INSERT INTO generation_attempts (id, generation_id, attempt_no, provider, model, status, cost_micros, created_at)
    SELECT gen_random_uuid(), g.id,
           (SELECT COALESCE(MAX(x.attempt_no), 0) + 1 FROM generation_attempts x WHERE x.generation_id = g.id),
           COALESCE(g.provider, '?'), COALESCE(g.provider_model, '?'), 'RUNNING', 0, now()
      FROM g WHERE g.upstream_task IS NULL RETURNING generation_id, attempt_no
  )
  SELECT g.*, COALESCE(a.attempt_no, (g.upstream_task->>'attemptNo')::int) AS claimed_attempt_no,
         (prev.status = 'RUNNING' AND g.upstream_task IS NULL) AS taken_over
    FROM g LEFT JOIN a ON a.generation_id = g.id LEFT JOIN prev ON prev.id = g.id`;

// The attempt is settled (and charged) even when the generation was cancelled meanwhile: the
// upstream call happened. The generation completes only if this run still owns it, and then
// releases its whole reservation.
const SUCCEED_SQL = `
  WITH v AS (
    SELECT * FROM jsonb_to_recordset($1::jsonb)
      AS v(id uuid, run_attempt int, attempt_no int, output jsonb, latency_ms int, cost_micros bigint, key_label text)
  ), charged AS (
    UPDATE generation_attempts ga SET status = 'SUCCEEDED', latency_ms = v.latency_ms, cost_micros = v.cost_micros, key_label = v.key_label
      FROM v WHERE ga.generation_id = v.id AND ga.attempt_no = v.attempt_no AND ga.status = 'RUNNING'
    RETURNING ga.generation_id, ga.attempt_no, ga.cost_micros
  ) ${CHARGE_LEDGER}, g AS (
    UPDATE generations gen SET status = 'SUCCEEDED', progress = 1, output = v.output, error_code = NULL, error_message = NULL, upstream_task = NULL,
           cost_micros = (SELECT COALESCE(SUM(x.cost_micros), 0) FROM generation_attempts x WHERE x.generation_id = gen.id AND x.attempt_no <> v.attempt_no)
                       + COALESCE((SELECT SUM(c.cost_micros) FROM charged c WHERE c.generation_id = gen.id), 0),
           completed_at = now(), updated_at = now()
      FROM v WHERE gen.id = v.id AND gen.status = 'RUNNING' AND gen.run_attempt = v.run_attempt
    RETURNING gen.*
  ) ${CHARGE_RELEASE_AND_SELECT}`;

export class GenerationStore {
  private readonly claims: TickBatcher<string, Claim | null>;
  private readonly successes: TickBatcher<Success, GenerationEntity | null>;

  constructor(private readonly ds: DataSource) {
    this.claims = new TickBatcher(async (ids) => {
      const rows: Record<string, unknown>[] = await this.ds.query(CLAIM_SQL, [[...new Set(ids)]]);
      const byId = new Map(rows.map((r) => [r.id as string, r]));
      // A duplicate delivery of the same job in one batch: only the first caller gets the claim.
      return ids.map((id) => {
        const row = byId.get(id);
        if (!row) return null;
        byId.delete(id);
        const gen = rowToEntity(this.ds, GenerationEntity, row);
        return { gen, attemptNo: row.claimed_attempt_no as number, takenOver: row.taken_over === true, seqFloor: gen.seqReserved - SEQ_BLOCK };
      });
    }, { isolate: true }); // one statement: a member Postgres refuses fails alone
    this.successes = new TickBatcher(async (items) => {
      const input = items.map((s) => ({
        id: s.gen.id, run_attempt: s.gen.runAttempt, attempt_no: s.attemptNo, output: s.output, latency_ms: s.latencyMs, cost_micros: s.costMicros, key_label: s.keyLabel ?? null,
      }));
      const rows: Record<string, unknown>[] = await this.ds.query(SUCCEED_SQL, [JSON.stringify(input)]);
      const byId = new Map(rows.map((r) => [r.id as string, r]));
      return items.map((s) => {
        const row = byId.get(s.gen.id);
        return row && row.run_attempt === s.gen.runAttempt ? rowToEntity(this.ds, GenerationEntity, row) : null;
      });
    }, { isolate: true }); // one statement: an output Postgres refuses fails only its own generation
  }

  /** Takes the generation (QUEUED or RUNNING) and opens its next attempt; null when it is not runnable. */
  claim(generationId: string): Promise<Claim | null> {
    return this.claims.add(generationId);
  }

  /** Reserves `n` more event seqs for a run that still owns the generation; the new ceiling, or null when it no longer does. */
  async reserveSeqs(generationId: string, runAttempt: number, n = SEQ_BLOCK): Promise<number | null> {
    const [rows] = await this.ds.query(
      `UPDATE generations SET seq_reserved = seq_reserved + $3 WHERE id = $1 AND status = 'RUNNING' AND run_attempt = $2 RETURNING seq_reserved`,
      [generationId, runAttempt, n],
    );
    return rows[0]?.seq_reserved ?? null;
  }

  /** The generation if it is terminal (a job for it arrived anyway: its terminal event may be unpublished). */
  async terminal(generationId: string): Promise<GenerationEntity | null> {
    const rows: Record<string, unknown>[] = await this.ds.query(
      `SELECT * FROM generations WHERE id = $1 AND status IN ('SUCCEEDED','FAILED','CANCELLED')`,
      [generationId],
    );
    return rows[0] ? rowToEntity(this.ds, GenerationEntity, rows[0]) : null;
  }

  /** Settles the attempt and completes the generation if this run still owns it; null otherwise. */
  succeed(s: Success): Promise<GenerationEntity | null> {
    return this.successes.add(s);
  }
}
