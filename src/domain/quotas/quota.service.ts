/**
 * Budgets that cannot be overspent. Admission reserves the worst-case cost in the same
 * transaction that writes the generation row (quota rows locked, in user order), so
 * concurrent requests can never pass the check together and a crash can never leak a
 * reservation. Every reserve, extend, charge and release is a ledger row, unique per
 * (generation, attempt, kind); settlement is therefore idempotent.
 *
 * Lock order, everywhere (see release.sql.ts): generation rows first, then quota rows by
 * (user_id, period_start). A transaction Postgres still aborts as a deadlock victim or a
 * serialization failure is run again (retryTransaction); no caller sees either.
 */
import type { DataSource, EntityManager } from "typeorm";
import { periodOf, type Clock } from "../../common/clock";
import { ForbiddenError, NotFoundError, BadUserInputError, QueueFullError } from "../../common/errors";
import { isUuid } from "../../common/ids";
import { MAX_USD, usdToMicros } from "../../common/money";
import { retryTransaction, sqlState } from "../../common/retry-transaction";
import { TickBatcher } from "../../common/tick-batcher";
import type { AppConfig, Tier } from "../../config/config";
import { GenerationEntity } from "../../db/entities/generation.entity";
import type { EventBus } from "../../realtime/event-bus";
import { Topic } from "../../realtime/topics";
import { isAdmin, type Viewer } from "../viewer";
import { QuotaExceededError } from "./quota-exceeded.error";

export type AdmitResult =
  | { kind: "inserted" }
  | { kind: "duplicate" }
  | { kind: "quota"; error: QuotaExceededError }
  | { kind: "queue_full"; error: QueueFullError };

export interface AdmissionLimits {
  maxQueuedPerUser: number;
  maxQueuedTotal: number;
  /** Jobs waiting in the queue (all users); sampled, not exact to the job. */
  queueDepth(): Promise<number>;
}

export interface QuotaView {
  userId: string;
  tier: Tier;
  limitMicros: number;
  spentMicros: number;
  reservedMicros: number;
  requests: number;
  periodStart: Date;
  periodEnd: Date;
}

interface QuotaRow {
  user_id: string;
  limit_micros: string;
  spent_micros: string;
  reserved_micros: string;
  warned_at: Date | null;
}

export class QuotaService {
  private readonly admissions: TickBatcher<GenerationEntity, AdmitResult>;

  constructor(
    private readonly ds: DataSource,
    private readonly bus: EventBus,
    private readonly clock: Clock,
    private readonly cfg: AppConfig["quotas"],
    private readonly admission?: AdmissionLimits,
  ) {
    // Serial: batches lock the same quota rows, so parallel ones would only queue on the lock.
    // Isolated: a batch that fails in Postgres is run again member by member, so one bad
    // request fails alone — unless Postgres itself is unreachable (SQLSTATE class 08, 53, 57).
    this.admissions = new TickBatcher((items) => this.admitBatch(items), { maxBatch: 200, serial: true, isolate: memberSpecific });
  }

  /** Reserves the generation's estimated cost and inserts it, atomically; batched per event-loop turn. */
  admit(gen: GenerationEntity): Promise<AdmitResult> {
    return this.admissions.add(gen);
  }

  private tierDefaults(): number[] {
    const t = this.cfg.tierLimitsUsd;
    return [usdToMicros(t.free), usdToMicros(t.pro), usdToMicros(t.enterprise)];
  }

  /**
   * Creates the users' rows for this period if needed and locks them, in one statement. An
   * INSERT … ON CONFLICT DO UPDATE locks rows in the order its SELECT yields them: user order,
   * the global lock order (one period here).
   */
  private async lockPeriods(m: EntityManager, userIds: string[], start: Date, end: Date): Promise<Map<string, QuotaRow>> {
    const rows: QuotaRow[] = await m.query(
      `INSERT INTO quota_periods (user_id, period_start, period_end, limit_micros)
       SELECT u.id, $2, $3, COALESCE(u.quota_limit_micros, CASE u.tier WHEN 'free' THEN $4::bigint WHEN 'pro' THEN $5::bigint ELSE $6::bigint END)
         FROM users u WHERE u.id = ANY($1::uuid[]) ORDER BY u.id
       ON CONFLICT (user_id, period_start) DO UPDATE SET period_end = EXCLUDED.period_end
       RETURNING user_id, limit_micros, spent_micros, reserved_micros, warned_at`,
      [userIds, start, end, ...this.tierDefaults()],
    );
    return new Map(rows.map((r) => [r.user_id, r]));
  }

  private async admitBatch(items: GenerationEntity[]): Promise<AdmitResult[]> {
    const { start, end } = periodOf(this.clock.now(), this.cfg.period);
    let warnings: string[] = [];
    const depth = this.admission ? await this.admission.queueDepth() : 0;
    if (this.admission && depth + items.length > this.admission.maxQueuedTotal) {
      const error = new QueueFullError(`The queue is full (${depth} generations waiting); retry later`, { depth, limit: this.admission.maxQueuedTotal });
      return items.map(() => ({ kind: "queue_full", error }) as AdmitResult);
    }
    // Everything a try decides is recomputed inside it: a retried try starts from scratch.
    const groupIds = items.map((g) => g.groupId);
    const results = await retryTransaction(() => this.ds.transaction(async (m) => {
      warnings = [];
      items.forEach((g, i) => Object.assign(g, { groupId: groupIds[i], reservedMicros: 0, quotaPeriodStart: null }));
      const userIds = [...new Set(items.map((g) => g.userId))].sort();
      const quotas = await this.lockPeriods(m, userIds, start, end);
      const active = new Map<string, number>();
      if (this.admission) {
        const rows: { user_id: string; n: number }[] = await m.query(
          `SELECT user_id, count(*)::int AS n FROM generations WHERE user_id = ANY($1::uuid[]) AND status IN ('QUEUED','RUNNING') GROUP BY 1`,
          [userIds],
        );
        for (const r of rows) active.set(r.user_id, r.n);
      }
      const keyed = items.filter((g) => g.idempotencyKey);
      const taken = new Set<string>();
      if (keyed.length) {
        const rows: { user_id: string; idempotency_key: string }[] = await m.query(
          `SELECT user_id, idempotency_key FROM generations
            WHERE (user_id, idempotency_key) IN (SELECT * FROM unnest($1::uuid[], $2::text[]))`,
          [keyed.map((g) => g.userId), keyed.map((g) => g.idempotencyKey)],
        );
        for (const r of rows) taken.add(`${r.user_id}\n${r.idempotency_key}`);
      }
      // A follower joins only a leader still queued or running (or admitted in this very batch).
      const leaderIds = [...new Set(items.map((g) => g.groupId).filter((x): x is string => !!x))];
      if (leaderIds.length) {
        const live = new Set<string>(
          (await m.query(`SELECT id FROM generations WHERE id = ANY($1::uuid[]) AND status IN ('QUEUED','RUNNING')`, [leaderIds])).map((r: { id: string }) => r.id),
        );
        const inBatch = new Set(items.map((g) => g.id));
        for (const g of items) if (g.groupId && !live.has(g.groupId) && !inBatch.has(g.groupId)) g.groupId = null;
      }
      const used = new Map<string, number>(); // reserved in this batch, per user
      const accepted: GenerationEntity[] = [];
      const out: AdmitResult[] = items.map((g) => {
        const key = g.idempotencyKey ? `${g.userId}\n${g.idempotencyKey}` : null;
        if (key && taken.has(key)) return { kind: "duplicate" };
        const queued = active.get(g.userId) ?? 0;
        if (this.admission && queued >= this.admission.maxQueuedPerUser)
          return {
            kind: "queue_full",
            error: new QueueFullError(`You have ${queued} generations queued or running, the most allowed; retry when some finish`, { depth: queued, limit: this.admission.maxQueuedPerUser }),
          };
        const q = quotas.get(g.userId)!;
        const limit = Number(q.limit_micros);
        const spent = Number(q.spent_micros);
        const reserved = Number(q.reserved_micros) + (used.get(g.userId) ?? 0);
        if (spent + reserved + g.estimatedCostMicros > limit)
          return { kind: "quota", error: new QuotaExceededError({ limitMicros: limit, spentMicros: spent, reservedMicros: reserved, periodEnd: end }, g.estimatedCostMicros) };
        if (key) taken.add(key);
        active.set(g.userId, queued + 1);
        used.set(g.userId, (used.get(g.userId) ?? 0) + g.estimatedCostMicros);
        g.reservedMicros = g.estimatedCostMicros;
        g.quotaPeriodStart = start;
        accepted.push(g);
        return { kind: "inserted" };
      });
      if (!accepted.length) return out;
      const acceptedIds = new Set(accepted.map((g) => g.id));
      for (const g of accepted) if (g.groupId && !acceptedIds.has(g.groupId) && items.some((x) => x.id === g.groupId)) g.groupId = null; // its leader was refused
      await m.createQueryBuilder().insert().into(GenerationEntity).values(accepted as never[]).execute();
      const perUser = [...used.entries()];
      const counts = perUser.map(([u]) => accepted.filter((g) => g.userId === u).length);
      for (const [u, amount] of perUser) {
        const q = quotas.get(u)!;
        const limit = Number(q.limit_micros);
        if (!q.warned_at && limit > 0 && Number(q.spent_micros) + Number(q.reserved_micros) + amount >= this.cfg.warnRatio * limit) warnings.push(u);
      }
      // Reservation, request count, warning mark and ledger entries: one statement.
      await m.query(
        `WITH q AS (
           UPDATE quota_periods qp SET reserved_micros = qp.reserved_micros + v.amount, requests = qp.requests + v.n,
                  warned_at = CASE WHEN v.warn AND qp.warned_at IS NULL THEN now() ELSE qp.warned_at END
             FROM unnest($1::uuid[], $2::bigint[], $3::int[], $4::boolean[]) AS v(user_id, amount, n, warn)
            WHERE qp.user_id = v.user_id AND qp.period_start = $5
         )
         INSERT INTO spend_ledger (user_id, period_start, generation_id, attempt_no, kind, amount_micros)
         SELECT v.user_id, $5, v.generation_id, 0, 'reserve', v.amount FROM unnest($6::uuid[], $7::uuid[], $8::bigint[]) AS v(user_id, generation_id, amount)`,
        [
          perUser.map(([u]) => u), perUser.map(([, a]) => a), counts, perUser.map(([u]) => warnings.includes(u)), start,
          accepted.map((g) => g.userId), accepted.map((g) => g.id), accepted.map((g) => g.estimatedCostMicros),
        ],
      );
      return out;
    }));
    for (const u of new Set(items.filter((_, i) => results[i].kind === "inserted").map((g) => g.userId))) this.changed(u, warnings.includes(u));
    return results;
  }

  /** Before an attempt after the first: reserve its worst case too, or refuse (false). */
  async extend(gen: GenerationEntity, attemptNo: number): Promise<boolean> {
    if (!gen.quotaPeriodStart || gen.estimatedCostMicros <= 0) return true;
    const amount = gen.estimatedCostMicros;
    let warn = false;
    const outcome = await retryTransaction(() => this.ds.transaction(async (m): Promise<"extended" | "already" | "refused"> => {
      warn = false;
      const [done] = await m.query(`SELECT 1 FROM spend_ledger WHERE generation_id = $1 AND attempt_no = $2 AND kind = 'extend'`, [gen.id, attemptNo]);
      if (done) return "already";
      // The generation row first, then its quota row: the global lock order (a cancel takes them in this order too).
      const [mine] = await m.query(`SELECT 1 FROM generations WHERE id = $1 AND status = 'RUNNING' AND run_attempt = $2 FOR NO KEY UPDATE`, [gen.id, gen.runAttempt]);
      if (!mine) return "refused";
      const [q] = await m.query(
        `SELECT limit_micros, spent_micros, reserved_micros, warned_at FROM quota_periods WHERE user_id = $1 AND period_start = $2 FOR NO KEY UPDATE`,
        [gen.userId, gen.quotaPeriodStart],
      );
      if (!q || Number(q.spent_micros) + Number(q.reserved_micros) + amount > Number(q.limit_micros)) return "refused";
      await m.query(`UPDATE generations SET reserved_micros = reserved_micros + $2 WHERE id = $1`, [gen.id, amount]);
      const limit = Number(q.limit_micros);
      const crosses = limit > 0 && Number(q.spent_micros) + Number(q.reserved_micros) + amount >= this.cfg.warnRatio * limit;
      const warnedNow = await m.query(
        `UPDATE quota_periods SET reserved_micros = reserved_micros + $3,
                warned_at = CASE WHEN $4 AND warned_at IS NULL THEN now() ELSE warned_at END
          WHERE user_id = $1 AND period_start = $2 RETURNING (warned_at IS NOT NULL AND $4 AND $5::timestamptz IS NULL) AS warned`,
        [gen.userId, gen.quotaPeriodStart, amount, crosses, q.warned_at],
      );
      warn = !!warnedNow[0]?.[0]?.warned;
      await m.query(
        `INSERT INTO spend_ledger (user_id, period_start, generation_id, attempt_no, kind, amount_micros) VALUES ($1, $2, $3, $4, 'extend', $5)`,
        [gen.userId, gen.quotaPeriodStart, gen.id, attemptNo, amount],
      );
      return "extended";
    }));
    if (outcome === "extended") {
      gen.reservedMicros += amount;
      this.changed(gen.userId, warn);
    }
    return outcome !== "refused";
  }

  private readonly warningHooks: ((userId: string) => void)[] = [];

  /** Runs `fn` once per warning crossing (per user and period), in the process that detected it (alerts, webhooks). */
  onWarning(fn: (userId: string) => void): void {
    this.warningHooks.push(fn);
  }

  /** Tells quotaUpdated subscribers that the figures moved (they read them fresh). */
  changed(userId: string, warning: boolean): void {
    void this.bus.publish(Topic.QUOTA_UPDATED, userId, { userId, warning }).catch(() => undefined);
    if (warning) for (const fn of this.warningHooks) fn(userId);
  }

  async get(viewer: Viewer, userId?: string): Promise<QuotaView> {
    const id = userId ?? viewer.userId;
    if (id !== viewer.userId && !isAdmin(viewer)) throw new ForbiddenError("Only admins can read another user's quota");
    if (!isUuid(id)) throw new NotFoundError("User", id);
    const { start, end } = periodOf(this.clock.now(), this.cfg.period);
    const [u] = await this.ds.query(`SELECT id, tier, quota_limit_micros FROM users WHERE id = $1`, [id]);
    if (!u) throw new NotFoundError("User", id);
    const [q] = await this.ds.query(`SELECT * FROM quota_periods WHERE user_id = $1 AND period_start = $2`, [id, start]);
    const [free, pro, ent] = this.tierDefaults();
    const tierLimit = u.tier === "free" ? free : u.tier === "pro" ? pro : ent;
    return {
      userId: id, tier: u.tier, periodStart: start, periodEnd: end,
      limitMicros: q ? Number(q.limit_micros) : u.quota_limit_micros !== null ? Number(u.quota_limit_micros) : tierLimit,
      spentMicros: q ? Number(q.spent_micros) : 0,
      reservedMicros: q ? Number(q.reserved_micros) : 0,
      requests: q ? q.requests : 0,
    };
  }

  /** Admin: a per-user limit (null = back to the tier default), effective for the current period at once. */
  async setQuota(viewer: Viewer, userId: string, limitUsd: number | null): Promise<QuotaView> {
    if (!isAdmin(viewer)) throw new ForbiddenError("Only admins can set quotas");
    if (limitUsd !== null && (!Number.isFinite(limitUsd) || limitUsd < 0 || limitUsd > MAX_USD))
      throw new BadUserInputError(`limitUsd must be between 0 and ${MAX_USD}`, { field: "limitUsd" });
    if (!isUuid(userId)) throw new NotFoundError("User", userId);
    const micros = limitUsd === null ? null : usdToMicros(limitUsd);
    const res = await retryTransaction(() => this.ds.query(`UPDATE users SET quota_limit_micros = $2 WHERE id = $1 RETURNING tier`, [userId, micros]));
    const row = res[0]?.[0];
    if (!row) throw new NotFoundError("User", userId);
    const { start } = periodOf(this.clock.now(), this.cfg.period);
    const [free, pro, ent] = this.tierDefaults();
    const effective = micros ?? (row.tier === "free" ? free : row.tier === "pro" ? pro : ent);
    await retryTransaction(() => this.ds.query(`UPDATE quota_periods SET limit_micros = $3 WHERE user_id = $1 AND period_start = $2`, [userId, start, effective]));
    this.changed(userId, false);
    return this.get(viewer, userId);
  }

  /** Rebuilds every period's balances from the ledger; returns the periods that disagree. */
  async verify(): Promise<{ periods: number; mismatches: Record<string, unknown>[] }> {
    const rows = await this.ds.query(`
      SELECT qp.user_id, qp.period_start, qp.spent_micros, qp.reserved_micros, qp.requests,
             COALESCE(l.charged, 0) AS ledger_spent, COALESCE(l.held, 0) AS ledger_reserved, COALESCE(l.reserves, 0) AS ledger_requests
        FROM quota_periods qp
        LEFT JOIN (
          SELECT user_id, period_start,
                 SUM(amount_micros) FILTER (WHERE kind = 'charge') AS charged,
                 SUM(CASE kind WHEN 'reserve' THEN amount_micros WHEN 'extend' THEN amount_micros WHEN 'release' THEN -amount_micros ELSE 0 END) AS held,
                 COUNT(*) FILTER (WHERE kind = 'reserve') AS reserves
            FROM spend_ledger GROUP BY 1, 2
        ) l ON l.user_id = qp.user_id AND l.period_start = qp.period_start`);
    const mismatches = rows.filter(
      (r: Record<string, string>) =>
        Number(r.spent_micros) !== Number(r.ledger_spent) || Number(r.reserved_micros) !== Number(r.ledger_reserved) || Number(r.requests) !== Number(r.ledger_requests),
    );
    return { periods: rows.length, mismatches };
  }
}

/**
 * Whether a failed admission batch may be one member's fault (bad data, a constraint) and is
 * worth running member by member: not when Postgres is unreachable or refusing work
 * (SQLSTATE classes 08, 53, 57) or the socket failed (ECONNREFUSED, ETIMEDOUT, …).
 */
function memberSpecific(err: unknown): boolean {
  const state = sqlState(err);
  if (state) return !/^(08|53|57)/.test(state);
  return typeof (err as { code?: unknown } | null)?.code !== "string";
}
