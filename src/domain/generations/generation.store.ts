/**
 * The generations and generation_attempts tables: the only module that issues SQL on them.
 * It also owns the money that moves with their transitions (an attempt's cost charged, a
 * terminal generation's reservation released), written into the transition's own statement so
 * both commit together or not at all. One coherent thing — one table pair's state machine and
 * its settlement — hence longer than ~300 lines.
 *
 * The worker's hot SQL is batched: claims (and finishes) made by concurrent jobs in the same
 * event-loop turn go to Postgres as one statement each. Every row is still guarded by its
 * own conditions (status, run_attempt), exactly as a single-row statement would be.
 *
 * Lock order (the whole system's): a statement or transaction locks the generation rows it
 * changes first, then quota_periods rows in (user_id, period_start) order — admission's upsert
 * and QuotaService.extend do the same. An UPDATE … FROM locks rows in whatever order its plan
 * meets them (a hash aggregate's, in practice), so each money statement first locks the rows it
 * will update in a MATERIALIZED `… ORDER BY user_id, period_start FOR NO KEY UPDATE` CTE, and
 * the UPDATE joins that CTE: it can only reach a row the CTE has already locked, in order.
 * An API key's budget row (api_key_periods, issue 17) moves with its user's and is locked after
 * every user row the statement locks, in (api_key_id, period_start) order.
 */
import type { DataSource, EntityManager } from "typeorm";
import { EntityNotFoundError, In } from "typeorm";
import { GenerationAttemptEntity } from "../../db/entities/generation-attempt.entity";
import { TickBatcher } from "../../common/tick-batcher";
import { GenerationEntity, type GenerationStatus, type LiveWebhookEndpoint, type Priority, type StoredModeration, type StoredOutput, type UpstreamTask } from "../../db/entities/generation.entity";
import type { Modality } from "../../providers/contract";
import { queryRows, type QueryOptions, type Row } from "../../db/query-rows";
import { rowToEntity } from "../../db/row-mapper";
import { RELAX_COMMIT } from "../../db/relaxed-commit";
import { insertRows } from "../../db/insert-rows";

export interface Claim {
  gen: GenerationEntity;
  attemptNo: number;
  /** The row was RUNNING without an upstream task: the run that had it died (or lost its job) mid-way. */
  takenOver: boolean;
  /** At or above every seq published before this run (the run's own seqs are reserved up to gen.seqReserved). */
  seqFloor: number;
  /**
   * The run's STARTED, going out with its QUEUED (its seq once published): a row born RUNNING on the fast sync path has
   * both published together (one round trip, GenerationService.create), so the run publishes no STARTED of its own. The
   * run starts meanwhile (its key lease goes out beside them) and waits for it before any call or event of its own.
   */
  started?: Promise<number>;
}

/** Event seqs a run reserves ahead in Postgres (one more UPDATE only after this many events). */
export const SEQ_BLOCK = 1000;

/**
 * The row of a generation whose run is already this process's when it is admitted (the fast sync
 * path, sync-run.ts), as admission writes it: RUNNING at run attempt 1 with the claim's seqs
 * reserved, exactly what CLAIM_SQL would have made of the QUEUED row. The admission's statement
 * opens its first attempt too (insertStatement), so the run starts from {@link bornClaim}
 * without a claim statement. A copy: the caller's entity stays the QUEUED one its QUEUED event shows.
 */
export function bornRunning(g: GenerationEntity): GenerationEntity {
  return Object.assign(new GenerationEntity(), g, { status: "RUNNING", runAttempt: 1, progress: 0, startedAt: new Date(), seqReserved: g.seqReserved + SEQ_BLOCK });
}

/** The claim a run born RUNNING starts from (what the claim statement would have returned). */
export function bornClaim(row: GenerationEntity): Claim {
  return { gen: row, attemptNo: 1, takenOver: false, seqFloor: row.seqReserved - SEQ_BLOCK };
}

export interface Success {
  gen: GenerationEntity;
  attemptNo: number;
  output: StoredOutput;
  latencyMs: number;
  costMicros: number;
  keyLabel?: string;
}

/** How a coalesced group's shared work ended, for the followers still waiting on it. */
export type GroupOutcome =
  | { status: "SUCCEEDED"; output: StoredOutput }
  | { status: "FAILED"; code: string; message: string };

/** The `generations(filter:)` page query; `before` is the keyset cursor (created_at DESC, id DESC). */
export interface GenerationQuery {
  userId?: string;
  status?: GenerationStatus[];
  modality?: Modality;
  model?: string;
  createdAfter?: Date;
  createdBefore?: Date;
  before?: { createdAt: Date; id: string };
}

/** A transaction's handle (QuotaStore.transaction): statements given one run inside it. */
export type Tx = EntityManager;

// --- money: charges and releases, written into the statement of the transition that moves them

/** Locks the quota rows named by `source` (user_id, period_start), in the global order. */
const lockQuotaRows = (name: string, source: string) => `
  , ${name} AS MATERIALIZED (
    SELECT qp.user_id, qp.period_start FROM quota_periods qp
     WHERE (qp.user_id, qp.period_start) IN (${source})
     ORDER BY qp.user_id, qp.period_start
       FOR NO KEY UPDATE
  )`;

/**
 * Releases the whole reservation of every generation in CTE `g` (moved to a terminal state)
 * once — the ledger's unique (generation, 0, 'release') entry guards against doing it twice.
 */
/** The API key whose budget the generation `id` counts against: the one its reserve entry names (null: none). */
const keyOf = (id: string) => `(SELECT r.api_key_id FROM spend_ledger r WHERE r.generation_id = ${id} AND r.attempt_no = 0 AND r.kind = 'reserve')`;

const RELEASE_LEDGER = `
  , rel AS (
    INSERT INTO spend_ledger (user_id, period_start, generation_id, attempt_no, kind, amount_micros, api_key_id)
    SELECT g.user_id, g.quota_period_start, g.id, 0, 'release', g.reserved_micros, ${keyOf("g.id")}
      FROM g WHERE g.reserved_micros > 0 AND g.quota_period_start IS NOT NULL
    ON CONFLICT DO NOTHING
    RETURNING user_id, period_start, amount_micros, api_key_id
  )`;

/** Charges the attempts in CTE `charged(generation_id, attempt_no, cost_micros)`: one ledger entry per attempt, spent moves only when the entry is new. */
const CHARGE_LEDGER = `
  , chg AS (
    INSERT INTO spend_ledger (user_id, period_start, generation_id, attempt_no, kind, amount_micros, api_key_id)
    SELECT gen.user_id, gen.quota_period_start, gen.id, c.attempt_no, 'charge', c.cost_micros, ${keyOf("gen.id")}
      FROM charged c
      -- the payer: the generation that made the call, unless it was cancelled while others in
      -- its coalescing group still wait; then the oldest of those
      CROSS JOIN LATERAL (
        SELECT x.* FROM generations x WHERE x.id = c.generation_id OR x.group_id = c.generation_id
         ORDER BY (x.status <> 'CANCELLED') DESC, (x.id = c.generation_id) DESC, x.created_at LIMIT 1
      ) gen
     WHERE c.cost_micros > 0 AND gen.quota_period_start IS NOT NULL
    ON CONFLICT DO NOTHING
    RETURNING user_id, period_start, amount_micros, api_key_id
  )`;

const CHARGE_QUOTAS = `${lockQuotaRows("chgk", "SELECT user_id, period_start FROM chg")}, chgq AS (
    UPDATE quota_periods qp SET spent_micros = qp.spent_micros + c.amount
      FROM (SELECT user_id, period_start, SUM(amount_micros) AS amount FROM chg GROUP BY 1, 2) c
      JOIN chgk k ON k.user_id = c.user_id AND k.period_start = c.period_start
     WHERE qp.user_id = c.user_id AND qp.period_start = c.period_start
  )`;

const RELEASE_QUOTAS = `${lockQuotaRows("relk", "SELECT user_id, period_start FROM rel")}, relq AS (
    UPDATE quota_periods qp SET reserved_micros = qp.reserved_micros - r.amount
      FROM (SELECT user_id, period_start, SUM(amount_micros) AS amount FROM rel GROUP BY 1, 2) r
      JOIN relk k ON k.user_id = r.user_id AND k.period_start = r.period_start
     WHERE qp.user_id = r.user_id AND qp.period_start = r.period_start
  )`;

/**
 * Charge and release in one statement: ONE update per quota row. Postgres applies only one of
 * two updates a single statement makes to the same row, so CHARGE_QUOTAS and RELEASE_QUOTAS
 * together would lose either the charge or the release.
 */
const CHARGE_AND_RELEASE_QUOTAS = `${lockQuotaRows("qk", "SELECT user_id, period_start FROM chg UNION SELECT user_id, period_start FROM rel")}, q AS (
    UPDATE quota_periods qp SET spent_micros = qp.spent_micros + d.charged, reserved_micros = qp.reserved_micros - d.released
      FROM (SELECT user_id, period_start, SUM(charged) AS charged, SUM(released) AS released
              FROM (SELECT user_id, period_start, amount_micros AS charged, 0 AS released FROM chg
                    UNION ALL SELECT user_id, period_start, 0, amount_micros FROM rel) x GROUP BY 1, 2) d
      JOIN qk k ON k.user_id = d.user_id AND k.period_start = d.period_start
     WHERE qp.user_id = d.user_id AND qp.period_start = d.period_start
  )`;

/**
 * The keys' rows, after the users': `userLock` is the statement's user-row lock CTE, read whole
 * (count) before any key row is locked, so the key rows come second whatever order Postgres
 * runs the CTEs in. One update per key row (charge and release summed), as for the users'.
 */
function keyQuotas(userLock: string, chg: boolean, rel: boolean): string {
  const deltas = [
    chg ? `SELECT api_key_id, period_start, amount_micros AS charged, 0 AS released FROM chg WHERE api_key_id IS NOT NULL` : null,
    rel ? `SELECT api_key_id, period_start, 0 AS charged, amount_micros AS released FROM rel WHERE api_key_id IS NOT NULL` : null,
  ].filter(Boolean).join(" UNION ALL ");
  return `
  , kk AS MATERIALIZED (
    SELECT kp.api_key_id, kp.period_start FROM api_key_periods kp
     WHERE (kp.api_key_id, kp.period_start) IN (SELECT api_key_id, period_start FROM (${deltas}) x)
       AND (SELECT count(*) FROM ${userLock}) >= 0
     ORDER BY kp.api_key_id, kp.period_start
       FOR NO KEY UPDATE
  ), kq AS (
    UPDATE api_key_periods kp SET spent_micros = kp.spent_micros + d.charged, reserved_micros = kp.reserved_micros - d.released
      FROM (SELECT api_key_id, period_start, SUM(charged) AS charged, SUM(released) AS released FROM (${deltas}) x GROUP BY 1, 2) d
      JOIN kk k ON k.api_key_id = d.api_key_id AND k.period_start = d.period_start
     WHERE kp.api_key_id = d.api_key_id AND kp.period_start = d.period_start
  )`;
}

/**
 * One statement that moves generations and the money that goes with them. `charged` is the
 * CTE list (no WITH) ending in `charged(generation_id, attempt_no, cost_micros)`: the attempts
 * whose cost is charged. `g` is the CTE list ending in `g`: generations moved to a terminal
 * state (RETURNING *), whose reservations are released; the statement returns its rows.
 * `after` adds CTEs after the money (a charge-only statement ends with `select`).
 * The CTEs keep the order they are given in: the order Postgres runs data-modifying CTEs
 * nobody reads depends on it, and so does the lock order above.
 */
/** The runner's and admission's hot statements: fixed texts, prepared once per connection (db/query-rows.ts). */
const PREPARED: QueryOptions = { prepare: true };
const BY_ID_SQL = `SELECT * FROM generations WHERE id = $1`;

function settling(s: { charged?: string; g?: string; after?: string; select?: string }): string {
  const parts: string[] = [];
  if (s.charged) parts.push(s.charged, CHARGE_LEDGER);
  if (s.g) parts.push(s.charged ? `, ${s.g}` : s.g, RELEASE_LEDGER);
  parts.push(s.charged && s.g ? CHARGE_AND_RELEASE_QUOTAS : s.charged ? CHARGE_QUOTAS : RELEASE_QUOTAS);
  parts.push(keyQuotas(s.charged && s.g ? "qk" : s.charged ? "chgk" : "relk", !!s.charged, !!s.g));
  if (s.after) parts.push(`, ${s.after}`);
  return `WITH ${parts.join("")}\n  ${s.select ?? "SELECT * FROM g"}`;
}

// --- statements

const CLAIM_SQL = `
  WITH prev AS (
    -- the statement's snapshot: the status before this claim. A lost claim loses nothing (the
    -- row stays as it was, the run's later conditional writes match nothing): its commit is relaxed.
    SELECT id, status FROM generations WHERE id = ANY($1::uuid[]) AND ${RELAX_COMMIT}
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
const SUCCEED_SQL = settling({
  charged: `
  v AS (
    SELECT * FROM jsonb_to_recordset($1::jsonb)
      AS v(id uuid, run_attempt int, attempt_no int, output jsonb, latency_ms int, cost_micros bigint, key_label text)
  ), charged AS (
    UPDATE generation_attempts ga SET status = 'SUCCEEDED', latency_ms = v.latency_ms, cost_micros = v.cost_micros, key_label = v.key_label
      FROM v WHERE ga.generation_id = v.id AND ga.attempt_no = v.attempt_no AND ga.status = 'RUNNING'
    RETURNING ga.generation_id, ga.attempt_no, ga.cost_micros
  )`,
  g: `g AS (
    UPDATE generations gen SET status = 'SUCCEEDED', progress = 1, output = v.output, error_code = NULL, error_message = NULL, upstream_task = NULL,
           cost_micros = (SELECT COALESCE(SUM(x.cost_micros), 0) FROM generation_attempts x WHERE x.generation_id = gen.id AND x.attempt_no <> v.attempt_no)
                       + COALESCE((SELECT SUM(c.cost_micros) FROM charged c WHERE c.generation_id = gen.id), 0),
           completed_at = now(), updated_at = now()
      FROM v WHERE gen.id = v.id AND gen.status = 'RUNNING' AND gen.run_attempt = v.run_attempt
    RETURNING gen.*, (SELECT count(*)::int FROM generation_attempts x WHERE x.generation_id = gen.id) AS attempt_count,
              -- the webhook dispatch's lookup, read with the transition (GenerationEntity.liveWebhookEndpoints)
              (SELECT COALESCE(jsonb_agg(jsonb_build_object('id', e.id, 'user_id', e.user_id, 'url', e.url, 'events', e.events, 'created_at', e.created_at)), '[]'::jsonb)
                 FROM webhook_endpoints e WHERE e.user_id = gen.user_id AND e.deleted_at IS NULL) AS live_webhook_endpoints
  )`,
});

const CANCEL_SQL = settling({
  g: `g AS (
    UPDATE generations SET status = 'CANCELLED', error_code = 'CANCELLED', error_message = 'Cancelled by the user',
           cost_micros = (SELECT COALESCE(SUM(cost_micros), 0) FROM generation_attempts WHERE generation_id = $1),
           completed_at = now(), updated_at = now()
     WHERE id = $1 AND status IN ('QUEUED','RUNNING') RETURNING *
  )`,
});

const expireSql = (which: string) => settling({
  g: `g AS (
    UPDATE generations SET status = 'FAILED', error_code = 'EXPIRED',
           error_message = 'The generation did not finish within the maximum age and was given up',
           completed_at = now(), updated_at = now()
     WHERE status IN ('QUEUED','RUNNING') AND ${which}
     RETURNING *
  )`,
});
// A member of an open provider batch is left to its batch (which may take the provider's 24 h): its batch ends it.
const EXPIRE_OLD_SQL = expireSql(`created_at < now() - make_interval(secs => $1::double precision / 1000)
       AND NOT EXISTS (SELECT 1 FROM provider_batch_members m JOIN provider_batches b ON b.id = m.batch_id
                        WHERE m.generation_id = generations.id AND b.state IN ('COLLECTING','SUBMITTING','SUBMITTED'))`);
const EXPIRE_IDS_SQL = expireSql(`id = ANY($1::uuid[])`);

const FINISH_FOLLOWERS_SQL = settling({
  g: `g AS (
    UPDATE generations f SET status = $2, output = $3, error_code = $4, error_message = $5,
           progress = CASE WHEN $2 = 'SUCCEEDED' THEN 1 ELSE f.progress END,
           cost_micros = (SELECT COALESCE(SUM(l.amount_micros), 0) FROM spend_ledger l WHERE l.generation_id = f.id AND l.kind = 'charge'),
           cache_hit = CASE WHEN $2 = 'SUCCEEDED' THEN jsonb_build_object('kind', 'COALESCED', 'similarity', 1, 'sourceGenerationId', $1::text) END,
           completed_at = now(), updated_at = now()
     WHERE f.group_id = $1 AND f.status IN ('QUEUED','RUNNING') RETURNING *
  )`,
});

// --- the runner's statements (run/)

/** A run's handle on its generation: the transition applies only while this run owns it. */
export type RunRef = Pick<GenerationEntity, "id" | "runAttempt">;
export type CandidateRef = { provider: string; providerModel: string };

export interface AttemptSettlement {
  generationId: string;
  attemptNo: number;
  status: "SUCCEEDED" | "FAILED" | "CANCELLED" | "SKIPPED" | "INVALID";
  latencyMs: number;
  costMicros: number;
  error?: { kind: string; message: string };
  keyLabel?: string;
}

const SETTLE_ATTEMPT_SQL = settling({
  charged: `charged AS (
    UPDATE generation_attempts SET status = $3, latency_ms = $4, cost_micros = $5, error_kind = $6, error_message = $7, key_label = COALESCE($8, key_label)
     WHERE generation_id = $1 AND attempt_no = $2 AND status = 'RUNNING'
    RETURNING generation_id, attempt_no, cost_micros
  )`,
  after: `late AS (
    -- an attempt that ends after its generation did (cancelled meanwhile) still counts in its cost
    UPDATE generations g SET cost_micros = COALESCE(g.cost_micros, 0) + c.cost_micros
      FROM charged c WHERE g.id = c.generation_id AND c.cost_micros > 0 AND g.status IN ('SUCCEEDED','FAILED','CANCELLED')
  )`,
  select: "SELECT 1",
});

const requeueSql = (task: string) => `
  UPDATE generations SET status = 'QUEUED', progress = 0, candidate_index = 0,${task}
         provider = COALESCE(candidates->0->>'provider', provider), provider_model = COALESCE(candidates->0->>'providerModel', provider_model), updated_at = now()
   WHERE id = $1 AND status = 'RUNNING' AND run_attempt = $2 RETURNING *`;
const REQUEUE_KEEP_TASK_SQL = requeueSql("");
const REQUEUE_SQL = requeueSql(" upstream_task = NULL,");

const FAIL_SQL = settling({
  g: `g AS (
    UPDATE generations SET status = 'FAILED', error_code = $3, error_message = $4, upstream_task = NULL,
           cost_micros = (SELECT COALESCE(SUM(cost_micros), 0) FROM generation_attempts WHERE generation_id = $1),
           completed_at = now(), updated_at = now()
     WHERE id = $1 AND status = 'RUNNING' AND ($5 OR run_attempt = $2) RETURNING *
  )`,
});

export class GenerationStore {
  private readonly claims: TickBatcher<string, Claim | null>;
  private readonly successes: TickBatcher<Success, GenerationEntity | null>;
  /** Cache hits made in the same turn are written with one multi-row INSERT; false = idempotency duplicate. */
  private readonly hitInserts: TickBatcher<GenerationEntity, boolean>;
  /** Attempt counts asked in the same turn (one per /v1 answer: its x-switchboard-attempts header) are one statement. */
  private readonly attemptCounts: TickBatcher<string, number>;

  constructor(private readonly ds: DataSource) {
    this.claims = new TickBatcher(async (ids) => {
      const rows = await this.rows(CLAIM_SQL, [[...new Set(ids)]], undefined, PREPARED);
      const byId = new Map(rows.map((r) => [r.id as string, r]));
      // A duplicate delivery of the same job in one batch: only the first caller gets the claim.
      return ids.map((id) => {
        const row = byId.get(id);
        if (!row) return null;
        byId.delete(id);
        const gen = this.entity(row);
        return { gen, attemptNo: row.claimed_attempt_no as number, takenOver: row.taken_over === true, seqFloor: gen.seqReserved - SEQ_BLOCK };
      });
    }, { isolate: true }); // one statement: a member Postgres refuses fails alone
    this.successes = new TickBatcher(async (items) => {
      const input = items.map((s) => ({
        id: s.gen.id, run_attempt: s.gen.runAttempt, attempt_no: s.attemptNo, output: s.output, latency_ms: s.latencyMs, cost_micros: s.costMicros, key_label: s.keyLabel ?? null,
      }));
      const rows = await this.rows(SUCCEED_SQL, [JSON.stringify(input)], undefined, PREPARED);
      const byId = new Map(rows.map((r) => [r.id as string, r]));
      return items.map((s) => {
        const row = byId.get(s.gen.id);
        if (!row || row.run_attempt !== s.gen.runAttempt) return null;
        const gen = this.entity(row);
        gen.attemptCount = row.attempt_count as number;
        gen.liveWebhookEndpoints = row.live_webhook_endpoints as LiveWebhookEndpoint[];
        return gen;
      });
      // Serial (group commit): every success locks its user's quota row (charge and release), the row each admission
      // transaction holds too; runs ending while one statement waits on it join the next one instead of queueing
      // on the row one statement (and one pool connection) each. Isolated: an output Postgres refuses fails only its own generation.
    }, { isolate: true, serial: true });
    this.hitInserts = new TickBatcher(async (gens) => {
      const res = await this.ds.createQueryBuilder().insert().into(GenerationEntity).values(gens as never[]).orIgnore().returning("id").execute();
      const inserted = new Set((res.raw as { id: string }[]).map((r) => r.id));
      return gens.map((g) => inserted.has(g.id));
    }, { isolate: true }); // one statement: a row Postgres refuses fails only its own caller
    this.attemptCounts = new TickBatcher(async (ids) => {
      const rows = await this.rows<{ id: string; n: number }>(
        `SELECT generation_id AS id, count(*)::int AS n FROM generation_attempts WHERE generation_id = ANY($1::uuid[]) GROUP BY 1`,
        [[...new Set(ids)]], undefined, PREPARED,
      );
      const n = new Map(rows.map((r) => [r.id, r.n]));
      return ids.map((id) => n.get(id) ?? 0);
    });
  }

  /** Every raw statement's rows, read one way; `tx` runs it inside a transaction. */
  private rows<T = Row>(sql: string, params: unknown[], tx?: Tx, opts?: QueryOptions): Promise<T[]> {
    return queryRows<T>(tx ?? this.ds, sql, params, opts);
  }

  private entity(row: Row): GenerationEntity {
    return rowToEntity(this.ds, GenerationEntity, row);
  }

  private async entities(sql: string, params: unknown[], tx?: Tx, opts?: QueryOptions): Promise<GenerationEntity[]> {
    return (await this.rows(sql, params, tx, opts)).map((r) => this.entity(r));
  }

  private get repo() {
    return this.ds.getRepository(GenerationEntity);
  }

  // --- reads

  /**
   * One row by id: a prepared statement mapped as RETURNING * rows are (every /v1 stream, subscription and
   * `generation` query reads one; TypeORM's findOneBy built a query builder for each, about 1 % of the API's CPU).
   */
  async findById(id: string): Promise<GenerationEntity | null> {
    const [row] = await this.rows(BY_ID_SQL, [id], undefined, PREPARED);
    return row ? this.entity(row) : null;
  }

  /** Throws (EntityNotFoundError) when the row is gone. */
  async getById(id: string): Promise<GenerationEntity> {
    const g = await this.findById(id);
    if (!g) throw new EntityNotFoundError(GenerationEntity, { id });
    return g;
  }

  findByIdempotencyKey(userId: string, idempotencyKey: string): Promise<GenerationEntity | null> {
    return this.repo.findOneBy({ userId, idempotencyKey });
  }

  /** Throws (EntityNotFoundError) when there is none. */
  getByIdempotencyKey(userId: string, idempotencyKey: string): Promise<GenerationEntity> {
    return this.repo.findOneByOrFail({ userId, idempotencyKey });
  }

  /** Up to `take` generations matching `q`, newest first (created_at DESC, id DESC). */
  page(q: GenerationQuery, take: number): Promise<GenerationEntity[]> {
    const qb = this.repo.createQueryBuilder("g");
    if (q.userId) qb.andWhere("g.userId = :uid", { uid: q.userId });
    if (q.status?.length) qb.andWhere("g.status = ANY(:st)", { st: q.status });
    if (q.modality) qb.andWhere("g.modality = :mod", { mod: q.modality });
    if (q.model) qb.andWhere("g.model = :model", { model: q.model });
    if (q.createdAfter) qb.andWhere("g.createdAt >= :ca", { ca: q.createdAfter });
    if (q.createdBefore) qb.andWhere("g.createdAt < :cb", { cb: q.createdBefore });
    if (q.before) qb.andWhere("(g.createdAt, g.id) < (:cAt, :cId)", { cAt: q.before.createdAt, cId: q.before.id });
    return qb.orderBy("g.createdAt", "DESC").addOrderBy("g.id", "DESC").take(take).getMany();
  }

  /** The rows that still exist among `ids`, in no particular order. */
  findByIds(ids: string[]): Promise<GenerationEntity[]> {
    return this.entities(`SELECT * FROM generations WHERE id = ANY($1::uuid[])`, [ids]);
  }

  /**
   * Terminal generations in (completed_at, id) order after `after` (the webhook reconciler's
   * cursor; `at` is full-precision timestamptz text), ended more than `graceMs` ago. A cursor
   * older than `lookbackMs` (or none) starts at the lookback.
   */
  terminalsAfter(after: { at: string; id: string } | null, graceMs: number, limit: number, lookbackMs: number): Promise<{ id: string; at: string }[]> {
    const nil = "00000000-0000-0000-0000-000000000000";
    return this.rows(
      `SELECT g.id, g.completed_at::text AS at FROM generations g
        WHERE g.completed_at IS NOT NULL
          AND (g.completed_at, g.id) > (
                CASE WHEN $1::timestamptz >= now() - $5 * interval '1 millisecond' THEN $1::timestamptz ELSE now() - $5 * interval '1 millisecond' END,
                CASE WHEN $1::timestamptz >= now() - $5 * interval '1 millisecond' THEN $2::uuid ELSE '${nil}'::uuid END)
          AND g.completed_at < now() - $3 * interval '1 millisecond'
        ORDER BY g.completed_at, g.id LIMIT $4`,
      [after?.at ?? null, after?.id ?? nil, graceMs, limit, lookbackMs],
    );
  }

  /** The generation if it is terminal (a job for it arrived anyway: its terminal event may be unpublished). */
  async terminal(generationId: string): Promise<GenerationEntity | null> {
    const [g] = await this.entities(`SELECT * FROM generations WHERE id = $1 AND status IN ('SUCCEEDED','FAILED','CANCELLED')`, [generationId]);
    return g ?? null;
  }

  /** Generations of the group (its leader's id) still QUEUED or RUNNING. */
  async waitingInGroup(groupId: string): Promise<number> {
    const [{ waiting }] = await this.rows<{ waiting: number }>(
      `SELECT count(*)::int AS waiting FROM generations WHERE (id = $1 OR group_id = $1) AND status IN ('QUEUED','RUNNING')`,
      [groupId],
    );
    return waiting;
  }

  /**
   * The sweeper's candidates: the job ids (a coalesced follower's is its group's) of QUEUED or
   * RUNNING generations not updated for `graceMs`, each once, with its priority.
   */
  staleJobs(graceMs: number, limit: number): Promise<{ id: string; priority: Priority }[]> {
    return this.rows(
      `SELECT DISTINCT ON (COALESCE(group_id, id)) COALESCE(group_id, id) AS id, priority FROM generations
        WHERE status IN ('QUEUED','RUNNING') AND updated_at < now() - make_interval(secs => $1::double precision / 1000)
        ORDER BY COALESCE(group_id, id), updated_at LIMIT $2`,
      [graceMs, limit],
    );
  }

  /** The job ids (group_id ?? id, one per row) of RUNNING generations waiting on this upstream task. */
  async jobsAwaitingUpstreamTask(provider: string, taskId: string): Promise<string[]> {
    const rows = await this.rows<{ id: string; group_id: string | null }>(
      `SELECT id, group_id FROM generations WHERE upstream_task->>'taskId' = $1 AND upstream_task->>'provider' = $2 AND status = 'RUNNING'`,
      [taskId, provider],
    );
    return rows.map((r) => r.group_id ?? r.id);
  }

  /**
   * Fairness (UserFairness): is any other user's generation waiting? Two range probes on the
   * active-by-user index.
   */
  async othersQueued(userId: string): Promise<boolean> {
    const [r] = await this.rows<{ others: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM generations WHERE status = 'QUEUED' AND user_id < $1)
           OR EXISTS (SELECT 1 FROM generations WHERE status = 'QUEUED' AND user_id > $1) AS others`,
      [userId],
    );
    return r.others === true;
  }

  // --- the request side's transitions

  /** Inserts a cache hit (already SUCCEEDED); false when its idempotency key was taken first. Batched per event-loop turn. */
  insertHit(gen: GenerationEntity): Promise<boolean> {
    return this.hitInserts.add(gen);
  }

  /** The generation leads its coalescing key from now on (its leader finished before it joined). */
  async lead(generationId: string, cacheKey: string | null, semanticScope: string | null): Promise<void> {
    await this.rows(`UPDATE generations SET cache_key = $2, semantic_scope = $3 WHERE id = $1`, [generationId, cacheKey, semanticScope]);
  }

  /** Cancels a QUEUED or RUNNING generation and releases its reservation; null when it was neither. */
  async cancel(generationId: string): Promise<GenerationEntity | null> {
    const [g] = await this.entities(CANCEL_SQL, [generationId]);
    return g ?? null;
  }

  /**
   * Fails as EXPIRED (releasing their reservations) the QUEUED or RUNNING generations created
   * more than `olderThanMs` ago, or those among `ids`.
   */
  expire(scope: { olderThanMs: number } | { ids: string[] }): Promise<GenerationEntity[]> {
    return "ids" in scope ? this.entities(EXPIRE_IDS_SQL, [scope.ids]) : this.entities(EXPIRE_OLD_SQL, [scope.olderThanMs]);
  }

  // --- coalesced groups (coalesced-group.ts)

  /** Marks the group's waiting followers (or just `followerId`) RUNNING; returns them. */
  adoptFollowers(leaderId: string, followerId: string | null): Promise<GenerationEntity[]> {
    return this.entities(
      `UPDATE generations SET status = 'RUNNING', progress = 0, started_at = COALESCE(started_at, now()), updated_at = now()
        WHERE group_id = $1 AND ($2::uuid IS NULL OR id = $2::uuid) AND status IN ('QUEUED','RUNNING') RETURNING *`,
      [leaderId, followerId],
    );
  }

  /** Ends every follower still waiting with the leader's outcome, releasing their reservations (they pay only if they are the payer). */
  finishFollowers(leaderId: string, outcome: GroupOutcome): Promise<GenerationEntity[]> {
    const ok = outcome.status === "SUCCEEDED";
    return this.entities(FINISH_FOLLOWERS_SQL, [
      leaderId, outcome.status, ok ? JSON.stringify(outcome.output) : null, ok ? null : outcome.code, ok ? null : outcome.message.slice(0, 1000),
    ]);
  }

  /**
   * The leader is gone (cancelled before it ran, or finished just before a follower joined):
   * the oldest waiting follower leads the group (and its cache key) from now on. Its id and priority.
   */
  async promoteHeir(leaderId: string): Promise<{ id: string; priority: Priority } | null> {
    const [heir] = await this.rows<{ id: string; priority: Priority }>(
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
    return heir ?? null;
  }

  // --- admission and reservations, inside the quota transaction (QuotaService)

  /** QUEUED or RUNNING generations per user. */
  /** The user's QUEUED/RUNNING count as an expression over `userColumn`, for another store's statement (admission's quota lock). */
  activeCountOf(userColumn: string): string {
    return `(SELECT count(*)::int FROM generations g WHERE g.user_id = ${userColumn} AND g.status IN ('QUEUED','RUNNING'))`;
  }

  async activeCounts(tx: Tx, userIds: string[]): Promise<Map<string, number>> {
    const rows = await this.rows<{ user_id: string; n: number }>(
      `SELECT user_id, count(*)::int AS n FROM generations WHERE user_id = ANY($1::uuid[]) AND status IN ('QUEUED','RUNNING') GROUP BY 1`,
      [userIds], tx, PREPARED,
    );
    return new Map(rows.map((r) => [r.user_id, r.n]));
  }

  /** Which of these (user, idempotency key) pairs a generation already has. */
  async takenIdempotencyKeys(tx: Tx, keys: { userId: string; idempotencyKey: string }[]): Promise<{ userId: string; idempotencyKey: string }[]> {
    const rows = await this.rows<{ user_id: string; idempotency_key: string }>(
      `SELECT user_id, idempotency_key FROM generations
        WHERE (user_id, idempotency_key) IN (SELECT * FROM unnest($1::uuid[], $2::text[]))`,
      [keys.map((k) => k.userId), keys.map((k) => k.idempotencyKey)], tx,
    );
    return rows.map((r) => ({ userId: r.user_id, idempotencyKey: r.idempotency_key }));
  }

  /** The ids among these that are QUEUED or RUNNING. */
  async activeIds(tx: Tx, ids: string[]): Promise<Set<string>> {
    const rows = await this.rows<{ id: string }>(`SELECT id FROM generations WHERE id = ANY($1::uuid[]) AND status IN ('QUEUED','RUNNING')`, [ids], tx);
    return new Set(rows.map((r) => r.id));
  }

  /**
   * The admitted generations' multi-row INSERT, as CTEs to run inside another statement (the admission's reservation,
   * quota.store.ts, sends them as the first part of its own statement: one round trip for both): `inserted` (the rows)
   * and `born` (the first attempt of each row admitted RUNNING, see {@link bornRunning}: the claim's attempt, in the same commit).
   */
  insertStatement(tx: Tx, gens: GenerationEntity[]): { ctes: string; params: unknown[] } {
    // The query builder's own statement, built without it (db/insert-rows.ts: it was 5% of the API's CPU).
    const [sql, params] = insertRows(tx.connection, GenerationEntity, gens, `"id", "status", "provider", "provider_model"`);
    const born = `INSERT INTO generation_attempts (id, generation_id, attempt_no, provider, model, status, cost_micros, created_at)
      SELECT gen_random_uuid(), i.id, 1, COALESCE(i.provider, '?'), COALESCE(i.provider_model, '?'), 'RUNNING', 0, now() FROM inserted i WHERE i.status = 'RUNNING'`;
    return { ctes: `inserted AS (${sql}), born AS (${born})`, params };
  }

  /** Locks the generation if this run still owns it (RUNNING at `runAttempt`); false otherwise. */
  async lockRunning(tx: Tx, generationId: string, runAttempt: number): Promise<boolean> {
    const rows = await this.rows(`SELECT 1 FROM generations WHERE id = $1 AND status = 'RUNNING' AND run_attempt = $2 FOR NO KEY UPDATE`, [generationId, runAttempt], tx);
    return rows.length > 0;
  }

  /** Adds to the generation's reservation (its quota row moves in the same transaction). */
  async addReserved(tx: Tx, generationId: string, amountMicros: number): Promise<void> {
    await this.rows(`UPDATE generations SET reserved_micros = reserved_micros + $2 WHERE id = $1`, [generationId, amountMicros], tx);
  }

  // --- the runner's transitions (claim … finish)

  /** Takes the generation (QUEUED or RUNNING) and opens its next attempt; null when it is not runnable. */
  claim(generationId: string): Promise<Claim | null> {
    return this.claims.add(generationId);
  }

  /** Reserves `n` more event seqs for a run that still owns the generation; the new ceiling, or null when it no longer does. */
  async reserveSeqs(generationId: string, runAttempt: number, n = SEQ_BLOCK): Promise<number | null> {
    const [row] = await this.rows<{ seq_reserved: number }>(
      `UPDATE generations SET seq_reserved = seq_reserved + $3 WHERE id = $1 AND status = 'RUNNING' AND run_attempt = $2 RETURNING seq_reserved`,
      [generationId, runAttempt, n],
    );
    return row?.seq_reserved ?? null;
  }

  /** Settles the attempt and completes the generation if this run still owns it; null otherwise. */
  succeed(s: Success): Promise<GenerationEntity | null> {
    return this.successes.add(s);
  }

  // --- reads for the api loaders

  /** The attempts of these generations, each generation's in attempt order (the `attempts` DataLoader's batch). */
  attemptsOf(generationIds: readonly string[]): Promise<GenerationAttemptEntity[]> {
    return this.ds.getRepository(GenerationAttemptEntity).find({
      where: { generationId: In([...generationIds]) },
      order: { attemptNo: "ASC" },
    });
  }

  /** How many attempts a generation has (every one, SKIPPED included: what `attemptsOf` lists); batched per event-loop turn. */
  attemptCount(generationId: string): Promise<number> {
    return this.attemptCounts.add(generationId);
  }

  // --- reads for the failure log

  /** How many calls went upstream for a generation: its attempts except SKIPPED ones (open circuit, no key). */
  async upstreamCallCount(generationId: string): Promise<number> {
    const [row] = await this.rows<{ n: number }>(`SELECT count(*)::int AS n FROM generation_attempts WHERE generation_id = $1 AND status <> 'SKIPPED'`, [generationId]);
    return row?.n ?? 0;
  }

  // --- the runner's transitions (run/)
  // Each is conditional on (status RUNNING, run_attempt): a run that no longer owns the generation changes nothing.

  /** Opens the next attempt on a candidate (fallback or another key); its number, or null when this run no longer owns the generation. */
  async openAttempt(gen: RunRef, cand: CandidateRef, idx: number): Promise<number | null> {
    const [row] = await this.rows<{ attempt_no: number }>(
      `WITH g AS (
         UPDATE generations SET provider = $3, provider_model = $4, candidate_index = $5, updated_at = now()
          WHERE id = $1 AND status = 'RUNNING' AND run_attempt = $2 RETURNING id
       )
       INSERT INTO generation_attempts (id, generation_id, attempt_no, provider, model, status, cost_micros, created_at)
       SELECT gen_random_uuid(), g.id, (SELECT COALESCE(MAX(x.attempt_no), 0) + 1 FROM generation_attempts x WHERE x.generation_id = g.id),
              $3, $4, 'RUNNING', 0, now() FROM g
       RETURNING attempt_no`,
      [gen.id, gen.runAttempt, cand.provider, cand.providerModel, idx],
    );
    return row?.attempt_no ?? null;
  }

  /** Points the current (not yet called) attempt at another candidate; false when this run no longer owns the generation. */
  async retarget(gen: RunRef, attemptNo: number, cand: CandidateRef, idx: number): Promise<boolean> {
    const rows = await this.rows(
      `WITH g AS (
         UPDATE generations SET provider = $4, provider_model = $5, candidate_index = $6, updated_at = now()
          WHERE id = $1 AND status = 'RUNNING' AND run_attempt = $2 RETURNING id
       )
       UPDATE generation_attempts a SET provider = $4, model = $5 FROM g
        WHERE a.generation_id = g.id AND a.attempt_no = $3 AND a.status = 'RUNNING' RETURNING a.attempt_no`,
      [gen.id, gen.runAttempt, attemptNo, cand.provider, cand.providerModel, idx],
    );
    return rows.length > 0;
  }

  /** Records how an attempt ended and charges what it cost (once: the ledger entry is unique). */
  async settleAttempt(s: AttemptSettlement): Promise<void> {
    await this.rows(SETTLE_ATTEMPT_SQL, [
      s.generationId, s.attemptNo, s.status, s.latencyMs, s.costMicros, s.error?.kind ?? null, s.error?.message.slice(0, 500) ?? null, s.keyLabel ?? null,
    ], undefined, PREPARED);
  }

  /** Remembers the generation's running upstream task; false when this run no longer owns it (cancelled meanwhile). */
  async setUpstreamTask(gen: RunRef, task: UpstreamTask): Promise<boolean> {
    const rows = await this.rows(
      `UPDATE generations SET upstream_task = $3, updated_at = now() WHERE id = $1 AND status = 'RUNNING' AND run_attempt = $2 RETURNING id`,
      [gen.id, gen.runAttempt, JSON.stringify(task)],
    );
    return rows.length > 0;
  }

  async clearUpstreamTask(gen: RunRef): Promise<void> {
    await this.rows(`UPDATE generations SET upstream_task = NULL WHERE id = $1 AND run_attempt = $2`, [gen.id, gen.runAttempt]);
  }

  /** Content moderation's findings of the running attempt (only while this run owns the generation). */
  async setModeration(gen: RunRef, moderation: StoredModeration): Promise<void> {
    await this.rows(
      `UPDATE generations SET moderation = $3, updated_at = now() WHERE id = $1 AND status = 'RUNNING' AND run_attempt = $2`,
      [gen.id, gen.runAttempt, JSON.stringify(moderation)],
    );
  }

  async setProgress(gen: RunRef, progress: number): Promise<void> {
    await this.rows(
      `UPDATE generations SET progress = $3, updated_at = now() WHERE id = $1 AND status = 'RUNNING' AND run_attempt = $2`,
      [gen.id, gen.runAttempt, progress],
    );
  }

  /**
   * Back to QUEUED from the first candidate: to wait in delayed (`keepTask`: a pending upstream
   * task stays) or to be retried (the task is dropped). The row, or null when this run no longer owns it.
   */
  async requeue(gen: RunRef, keepTask: boolean): Promise<GenerationEntity | null> {
    const [row] = await this.entities(keepTask ? REQUEUE_KEEP_TASK_SQL : REQUEUE_SQL, [gen.id, gen.runAttempt]);
    return row ?? null;
  }

  /** Back to QUEUED as it is (this process shuts down; another worker takes the job). */
  async handBack(gen: RunRef): Promise<GenerationEntity | null> {
    const [row] = await this.entities(
      `UPDATE generations SET status = 'QUEUED', progress = 0, updated_at = now()
        WHERE id = $1 AND status = 'RUNNING' AND run_attempt = $2 RETURNING *`,
      [gen.id, gen.runAttempt],
    );
    return row ?? null;
  }

  /** Fails the generation (its cost is the sum of its attempts') and releases its reservation; null when this run no longer owns it. */
  async fail(gen: RunRef, code: string, message: string, skipAttemptCheck = false): Promise<GenerationEntity | null> {
    const [row] = await this.entities(FAIL_SQL, [gen.id, gen.runAttempt, code, message.slice(0, 1000), skipAttemptCheck], undefined, PREPARED);
    return row ?? null;
  }
}
