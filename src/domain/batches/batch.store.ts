/**
 * The provider_batches and provider_batch_members tables: the only module that issues SQL on
 * them. A batch's state machine: COLLECTING (one per provider and model at a time; members
 * join it) → SUBMITTING (taken by one submitter; its members claimed) → SUBMITTED (the
 * provider's batch id is known; polled) → ENDED (every line read) | FAILED (the provider
 * failed the batch) | EMPTY (every member was cancelled before submission). Each move is a
 * conditional update on the state, so two processes never both take the same step.
 */
import type { DataSource } from "typeorm";
import { newId } from "../../common/ids";
import { queryRows } from "../../db/query-rows";

export type BatchState = "COLLECTING" | "SUBMITTING" | "SUBMITTED" | "ENDED" | "FAILED" | "EMPTY";

export interface BatchRow {
  id: string;
  provider: string;
  providerModel: string;
  state: BatchState;
  size: number;
  submitAfter: Date;
  providerBatchId: string | null;
  providerState: Record<string, string> | null;
  keyLabel: string | null;
  error: string | null;
  submittedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface MemberRow {
  generationId: string;
  /** The run attempt and attempt row its submission claimed (null: not claimed yet). */
  runAttempt: number | null;
  attemptNo: number | null;
}

type Raw = Record<string, unknown>;

const toBatch = (r: Raw): BatchRow => ({
  id: r.id as string, provider: r.provider as string, providerModel: r.provider_model as string, state: r.state as BatchState,
  size: Number(r.size), submitAfter: new Date(r.submit_after as string), providerBatchId: (r.provider_batch_id as string | null) ?? null,
  providerState: (r.provider_state as Record<string, string> | null) ?? null, keyLabel: (r.key_label as string | null) ?? null,
  error: (r.error as string | null) ?? null, submittedAt: r.submitted_at ? new Date(r.submitted_at as string) : null, createdAt: new Date(r.created_at as string), updatedAt: new Date(r.updated_at as string),
});

export class BatchStore {
  constructor(private readonly ds: DataSource) {}

  /**
   * Adds a generation to the provider and model's COLLECTING batch, opening one when there is
   * none. `created`: this call opened it (its wait starts now); `size`: members so far.
   */
  async collect(generationId: string, provider: string, providerModel: string, maxWaitMs: number): Promise<{ batchId: string; size: number; created: boolean }> {
    const [r] = await queryRows<{ id: string; size: number; created: boolean }>(this.ds, `
      WITH b AS (
        INSERT INTO provider_batches (id, provider, provider_model, state, size, submit_after)
        VALUES ($1, $2, $3, 'COLLECTING', 1, now() + make_interval(secs => $5::double precision / 1000))
        ON CONFLICT (provider, provider_model) WHERE state = 'COLLECTING'
        DO UPDATE SET size = provider_batches.size + 1, updated_at = now()
        RETURNING id, size, (xmax = 0) AS created
      ), m AS (
        INSERT INTO provider_batch_members (generation_id, batch_id) SELECT $4, id FROM b
      )
      SELECT * FROM b`, [newId(), provider, providerModel, generationId, maxWaitMs]);
    return { batchId: r.id, size: Number(r.size), created: r.created };
  }

  async get(batchId: string): Promise<BatchRow | null> {
    const [r] = await queryRows<Raw>(this.ds, `SELECT * FROM provider_batches WHERE id = $1`, [batchId]);
    return r ? toBatch(r) : null;
  }

  /** COLLECTING → SUBMITTING: true for the one caller that took it (members can no longer join). */
  async beginSubmit(batchId: string): Promise<boolean> {
    const rows = await queryRows(this.ds, `UPDATE provider_batches SET state = 'SUBMITTING', updated_at = now() WHERE id = $1 AND state = 'COLLECTING' RETURNING id`, [batchId]);
    return rows.length > 0;
  }

  async members(batchId: string): Promise<MemberRow[]> {
    const rows = await queryRows<Raw>(this.ds, `SELECT generation_id, run_attempt, attempt_no FROM provider_batch_members WHERE batch_id = $1 ORDER BY created_at, generation_id`, [batchId]);
    return rows.map((r) => ({ generationId: r.generation_id as string, runAttempt: (r.run_attempt as number | null) ?? null, attemptNo: (r.attempt_no as number | null) ?? null }));
  }

  /** Remembers the run a member's submission claimed (its results settle that run). */
  async claimed(generationId: string, runAttempt: number, attemptNo: number): Promise<void> {
    await queryRows(this.ds, `UPDATE provider_batch_members SET run_attempt = $2, attempt_no = $3 WHERE generation_id = $1`, [generationId, runAttempt, attemptNo]);
  }

  /** Members that will not be (or are no longer) part of the batch: cancelled before submission. */
  async drop(generationIds: string[]): Promise<void> {
    if (!generationIds.length) return;
    await queryRows(this.ds, `DELETE FROM provider_batch_members WHERE generation_id = ANY($1::uuid[])`, [generationIds]);
  }

  /** A generation cancelled while its batch still collects leaves it (true when it was in one). */
  async leaveCollecting(generationId: string): Promise<boolean> {
    const rows = await queryRows(this.ds, `
      WITH m AS (
        DELETE FROM provider_batch_members m USING provider_batches b
         WHERE m.generation_id = $1 AND b.id = m.batch_id AND b.state = 'COLLECTING' RETURNING m.batch_id
      )
      UPDATE provider_batches b SET size = GREATEST(0, b.size - 1), updated_at = now() FROM m WHERE b.id = m.batch_id RETURNING b.id`, [generationId]);
    return rows.length > 0;
  }

  /** SUBMITTING → SUBMITTED with the provider's batch id. */
  async submitted(batchId: string, providerBatchId: string, providerState: Record<string, string> | undefined, keyLabel: string | undefined): Promise<boolean> {
    const rows = await queryRows(this.ds, `
      UPDATE provider_batches SET state = 'SUBMITTED', provider_batch_id = $2, provider_state = $3, key_label = $4, submitted_at = now(), updated_at = now()
       WHERE id = $1 AND state = 'SUBMITTING' RETURNING id`, [batchId, providerBatchId, providerState ?? null, keyLabel ?? null]);
    return rows.length > 0;
  }

  /** Which of these provider batch ids another of our batches (not `exceptBatchId`) already holds. */
  async heldProviderBatchIds(providerBatchIds: string[], exceptBatchId: string): Promise<Set<string>> {
    if (!providerBatchIds.length) return new Set();
    const rows = await queryRows<{ provider_batch_id: string }>(this.ds, `
      SELECT provider_batch_id FROM provider_batches WHERE provider_batch_id = ANY($1::text[]) AND id <> $2`, [providerBatchIds, exceptBatchId]);
    return new Set(rows.map((r) => r.provider_batch_id));
  }

  /** A poll that found it still running: its liveness mark (the sweeper recovers batches not touched for a while). */
  async touch(batchId: string): Promise<void> {
    await queryRows(this.ds, `UPDATE provider_batches SET updated_at = now() WHERE id = $1`, [batchId]);
  }

  /** The batch is over (ENDED, FAILED, EMPTY). */
  async end(batchId: string, state: "ENDED" | "FAILED" | "EMPTY", error?: string): Promise<void> {
    await queryRows(this.ds, `UPDATE provider_batches SET state = $2, error = $3, ended_at = now(), updated_at = now() WHERE id = $1 AND state IN ('COLLECTING','SUBMITTING','SUBMITTED')`, [batchId, state, error?.slice(0, 1000) ?? null]);
  }

  /** Batches still open and untouched for `graceMs` (their job may be lost), oldest first. */
  async stale(graceMs: number, limit: number): Promise<BatchRow[]> {
    const rows = await queryRows<Raw>(this.ds, `
      SELECT * FROM provider_batches
       WHERE state IN ('COLLECTING','SUBMITTING','SUBMITTED') AND updated_at < now() - make_interval(secs => $1::double precision / 1000)
         AND (state <> 'COLLECTING' OR submit_after <= now())
       ORDER BY updated_at LIMIT $2`, [graceMs, limit]);
    return rows.map(toBatch);
  }

  /** Which of these generations belong to an open batch (their batch's job runs them, not a generation job). */
  async inOpenBatch(generationIds: string[]): Promise<Set<string>> {
    if (!generationIds.length) return new Set();
    const rows = await queryRows<{ generation_id: string }>(this.ds, `
      SELECT m.generation_id FROM provider_batch_members m JOIN provider_batches b ON b.id = m.batch_id
       WHERE m.generation_id = ANY($1::uuid[]) AND b.state IN ('COLLECTING','SUBMITTING','SUBMITTED')`, [generationIds]);
    return new Set(rows.map((r) => r.generation_id));
  }
}
