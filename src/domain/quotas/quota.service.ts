/**
 * Budgets that cannot be overspent. Admission reserves the worst-case cost in the same
 * transaction that writes the generation row (quota rows locked, in user order), so
 * concurrent requests can never pass the check together and a crash can never leak a
 * reservation. Every reserve, extend, charge and release is a ledger row, unique per
 * (generation, attempt, kind); settlement is therefore idempotent.
 *
 * An API key with a budget (issue 17) is a second budget on top of its user's: the same
 * reservation, extension and settlement move its api_key_periods row too, and a request must fit
 * both. Whether a generation counts against its key is decided once, at admission (its ledger
 * entries name the key), so a budget set or lifted mid-flight never unbalances a row.
 *
 * Lock order, everywhere (see generation.store.ts): generation rows first, then quota rows by
 * (user_id, period_start), then key rows by (api_key_id, period_start). A transaction Postgres still aborts as a deadlock victim or a
 * serialization failure is run again (retryTransaction); no caller sees either.
 *
 * One coherent thing, over 300 lines: the budget rules for users and their keys (admission,
 * extension, the reads and admin changes of the same rows), kept together so the lock order is one.
 */
import { LRUCache } from "lru-cache";
import type { DataSource } from "typeorm";
import { periodOf, type Clock } from "../../common/clock";
import { ForbiddenError, NotFoundError, BadUserInputError, QueueFullError } from "../../common/errors";
import { isUuid } from "../../common/ids";
import { MAX_USD, usdToMicros } from "../../common/money";
import { isRetryableTransactionError, retryTransaction, sqlState } from "../../common/retry-transaction";
import { TickBatcher } from "../../common/tick-batcher";
import type { AppConfig, Tier } from "../../config/config";
import type { GenerationEntity } from "../../db/entities/generation.entity";
import type { EventBus } from "../../realtime/event-bus";
import { Topic } from "../../realtime/topics";
import { isAdmin, type Viewer } from "../viewer";
import { GenerationStore, bornRunning } from "../generations/generation.store";
import { QuotaExceededError, keyQuotaError } from "./quota-exceeded.error";
import { QuotaStore, type KeyPeriodRow } from "./quota.store";

export type AdmitResult =
  /** `running`: the row as admitted RUNNING, its run already this process's (the fast sync path: `born` said so in time). */
  | { kind: "inserted"; running?: GenerationEntity }
  | { kind: "duplicate" }
  | { kind: "quota"; error: QuotaExceededError }
  | { kind: "queue_full"; error: QueueFullError };

export interface AdmissionLimits {
  maxQueuedPerUser: number;
  maxQueuedTotal: number;
  /** Jobs waiting in the queue (all users); sampled, not exact to the job. */
  queueDepth(): Promise<number>;
}

/** One request to admit: `keyBudget` when the viewer's key has a budget (its row is then locked and checked too). */
interface Admission {
  gen: GenerationEntity;
  keyBudget: boolean;
  /** The caller waits for (or follows) the run, whose terminal commit is synchronous; a batch is relaxed only when all of it is. */
  relaxed: boolean;
  /** True once this process holds a slot and the leases to run it itself (sync-run.ts): then the row is admitted RUNNING. */
  born?: Promise<boolean>;
}

/**
 * How long admission waits, inside its transaction, for a `born` answer still out (one Redis round trip, normally
 * answered long before): past it the row is admitted QUEUED and its run claims it, so a slow Redis never holds the
 * quota rows' locks for long.
 */
const BORN_WAIT_MS = 25;

function within(p: Promise<boolean>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p.catch(() => false), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)))]).finally(() => clearTimeout(timer));
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

export class QuotaService {
  private readonly admissions: TickBatcher<Admission, AdmitResult>;
  /** Users whose batch the one-statement admission refused a moment ago (admitInOne). */
  private readonly refusedLately = new LRUCache<string, true>({ max: 10_000, ttl: 5_000 });
  private readonly store: QuotaStore;
  private readonly generations: GenerationStore;

  constructor(
    ds: DataSource,
    private readonly bus: EventBus,
    private readonly clock: Clock,
    private readonly cfg: AppConfig["quotas"],
    private readonly admission?: AdmissionLimits,
  ) {
    this.store = new QuotaStore(ds);
    this.generations = new GenerationStore(ds);
    // Serial: batches lock the same quota rows, so parallel ones would only queue on the lock.
    // Isolated: a batch that fails in Postgres is run again member by member, so one bad
    // request fails alone — unless Postgres itself is unreachable (SQLSTATE class 08, 53, 57).
    this.admissions = new TickBatcher((items) => this.admitBatch(items), { maxBatch: 200, serial: true, isolate: memberSpecific });
  }

  /**
   * Reserves the estimated cost and inserts the row, atomically; batched per event-loop turn. `keyBudget`: its
   * API key has a budget too, which must fit. `relaxed`: a commit not waiting for the disk (db/relaxed-commit.ts).
   * `born`: resolves true when this process will run the generation itself at once; the row is then admitted RUNNING
   * with its first attempt open (bornRunning), returned as `running`.
   */
  admit(gen: GenerationEntity, keyBudget = false, opts: { relaxed?: boolean; born?: Promise<boolean> } = {}): Promise<AdmitResult> {
    return this.admissions.add({ gen, keyBudget: keyBudget && !!gen.apiKeyId, relaxed: !!opts.relaxed, born: opts.born });
  }

  private tierDefaults(): number[] {
    const t = this.cfg.tierLimitsUsd;
    return [usdToMicros(t.free), usdToMicros(t.pro), usdToMicros(t.enterprise)];
  }

  private async admitBatch(batch: Admission[]): Promise<AdmitResult[]> {
    const items = batch.map((a) => a.gen);
    const keyIds = [...new Set(batch.filter((a) => a.keyBudget).map((a) => a.gen.apiKeyId!))].sort();
    const { start, end } = periodOf(this.clock.now(), this.cfg.period);
    let warnings: string[] = [];
    const depth = this.admission ? await this.admission.queueDepth() : 0;
    if (this.admission && depth + items.length > this.admission.maxQueuedTotal) {
      const error = new QueueFullError(`The queue is full (${depth} generations waiting); retry later`, { depth, limit: this.admission.maxQueuedTotal });
      return items.map(() => ({ kind: "queue_full", error }) as AdmitResult);
    }
    const relaxed = batch.every((a) => a.relaxed);
    const inOne = await this.admitInOne(batch, start, end, relaxed);
    if (inOne) return inOne;
    // Everything a try decides is recomputed inside it: a retried try starts from scratch.
    const groupIds = items.map((g) => g.groupId);
    const results = await retryTransaction(() => this.store.transaction(async (tx) => {
      warnings = [];
      items.forEach((g, i) => Object.assign(g, { groupId: groupIds[i], reservedMicros: 0, quotaPeriodStart: null }));
      const userIds = [...new Set(items.map((g) => g.userId))].sort();
      const quotas = await this.store.lockPeriods(tx, userIds, start, end, this.tierDefaults(), { relaxed, active: this.admission ? (u) => this.generations.activeCountOf(u) : undefined });
      // After the users' rows (the lock order); a key whose budget was lifted meanwhile has no row and counts nothing.
      const keys = keyIds.length ? await this.store.lockKeyPeriods(tx, keyIds, start) : new Map<string, KeyPeriodRow>();
      // The queued counts came with the locks; a user whose count may be stale (an admission of theirs committed while the lock
      // waited, or the period's first) is counted again now, behind the lock.
      const active = new Map<string, number>();
      if (this.admission) {
        const stale = userIds.filter((u) => !quotas.get(u)?.fresh);
        for (const u of userIds) if (quotas.get(u)?.fresh) active.set(u, quotas.get(u)!.active ?? 0);
        if (stale.length) for (const [u, n] of await this.generations.activeCounts(tx, stale)) active.set(u, n);
      }
      const keyed = items.filter((g) => g.idempotencyKey);
      const taken = new Set<string>();
      if (keyed.length) {
        const rows = await this.generations.takenIdempotencyKeys(tx, keyed.map((g) => ({ userId: g.userId, idempotencyKey: g.idempotencyKey! })));
        for (const r of rows) taken.add(`${r.userId}\n${r.idempotencyKey}`);
      }
      // A follower joins only a leader still queued or running (or admitted in this very batch).
      const leaderIds = [...new Set(items.map((g) => g.groupId).filter((x): x is string => !!x))];
      if (leaderIds.length) {
        const live = await this.generations.activeIds(tx, leaderIds);
        const inBatch = new Set(items.map((g) => g.id));
        for (const g of items) if (g.groupId && !live.has(g.groupId) && !inBatch.has(g.groupId)) g.groupId = null;
      }
      const used = new Map<string, number>(); // reserved in this batch, per user
      const keyUsed = new Map<string, number>(); // and per budgeted key
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
        const k = g.apiKeyId ? keys.get(g.apiKeyId) : undefined;
        if (k) {
          const kLimit = Number(k.limit_micros);
          const kSpent = Number(k.spent_micros);
          const kReserved = Number(k.reserved_micros) + (keyUsed.get(k.api_key_id) ?? 0);
          if (kSpent + kReserved + g.estimatedCostMicros > kLimit)
            return { kind: "quota", error: keyQuotaError(k.api_key_id, { limitMicros: kLimit, spentMicros: kSpent, reservedMicros: kReserved, periodEnd: end }, g.estimatedCostMicros) };
          keyUsed.set(k.api_key_id, (keyUsed.get(k.api_key_id) ?? 0) + g.estimatedCostMicros);
        }
        if (key) taken.add(key);
        active.set(g.userId, queued + 1);
        used.set(g.userId, (used.get(g.userId) ?? 0) + g.estimatedCostMicros);
        g.reservedMicros = g.estimatedCostMicros;
        g.quotaPeriodStart = start;
        accepted.push(g);
        return { kind: "inserted" };
      });
      if (!accepted.length) return out;
      // Rows whose run is already this process's are written RUNNING (asked here, after the locks: the answer came meanwhile).
      const bornOf = new Map(batch.filter((a) => a.born).map((a) => [a.gen, a.born!]));
      const running = new Map<GenerationEntity, GenerationEntity>();
      if (bornOf.size)
        await Promise.all(accepted.map(async (g) => {
          const born = bornOf.get(g);
          if (born && (await within(born, BORN_WAIT_MS))) running.set(g, bornRunning(g));
        }));
      items.forEach((g, i) => { const row = running.get(g); if (row) out[i] = { kind: "inserted", running: row }; });
      const acceptedIds = new Set(accepted.map((g) => g.id));
      for (const g of accepted) if (g.groupId && !acceptedIds.has(g.groupId) && items.some((x) => x.id === g.groupId)) g.groupId = null; // its leader was refused
      const perUser = [...used.entries()];
      const counts = perUser.map(([u]) => accepted.filter((g) => g.userId === u).length);
      for (const [u, amount] of perUser) {
        const q = quotas.get(u)!;
        const limit = Number(q.limit_micros);
        if (!q.warned_at && limit > 0 && Number(q.spent_micros) + Number(q.reserved_micros) + amount >= this.cfg.warnRatio * limit) warnings.push(u);
      }
      await this.store.reserve(tx, {
        periodStart: start,
        users: perUser.map(([u, amount], i) => ({ userId: u, amountMicros: amount, requests: counts[i], warn: warnings.includes(u) })),
        keys: [...keyUsed.entries()].map(([k, amount]) => ({ apiKeyId: k, amountMicros: amount, requests: accepted.filter((g) => g.apiKeyId === k).length })),
        generations: accepted.map((g) => ({
          userId: g.userId, generationId: g.id, amountMicros: g.estimatedCostMicros, apiKeyId: g.apiKeyId && keys.has(g.apiKeyId) ? g.apiKeyId : null,
        })),
      }, this.generations.insertStatement(tx, accepted.map((g) => running.get(g) ?? g))); // the rows and their reservation: one statement
      return out;
    }));
    for (const u of new Set(items.filter((_, i) => results[i].kind === "inserted").map((g) => g.userId))) this.changed(u, warnings.includes(u));
    return results;
  }

  /**
   * The common batch admitted in one autocommit statement (QuotaStore.admitInOne), without a transaction's round trips:
   * no idempotency key, no coalescing, no key budget, and every user's whole batch fits their budget and queue cap.
   * Null when the batch may not take this way, or the statement refused it (nothing of it stays): admitBatch then
   * admits it the long way, which answers each member exactly (a prefix that fits, QUOTA_EXCEEDED or QUEUE_FULL for the rest).
   */
  private async admitInOne(batch: Admission[], start: Date, end: Date, relaxed: boolean): Promise<AdmitResult[] | null> {
    if (batch.some((a) => a.keyBudget || a.gen.idempotencyKey || a.gen.groupId || this.refusedLately.has(a.gen.userId))) return null;
    const items = batch.map((a) => a.gen);
    for (const g of items) Object.assign(g, { reservedMicros: g.estimatedCostMicros, quotaPeriodStart: start });
    // Rows whose run is already this process's are written RUNNING (its answer, one Redis round trip sent before admission, is in by now).
    const running = new Map<GenerationEntity, GenerationEntity>();
    await Promise.all(batch.map(async (a) => {
      if (a.born && (await within(a.born, BORN_WAIT_MS))) running.set(a.gen, bornRunning(a.gen));
    }));
    const perUser = new Map<string, { amount: number; n: number }>();
    for (const g of items) {
      const u = perUser.get(g.userId) ?? { amount: 0, n: 0 };
      perUser.set(g.userId, { amount: u.amount + g.estimatedCostMicros, n: u.n + 1 });
    }
    try {
      const warned = await this.store.admitInOne(
        {
          periodStart: start,
          users: [...perUser].map(([userId, u]) => ({ userId, amountMicros: u.amount, requests: u.n, warn: false })),
          generations: items.map((g) => ({ userId: g.userId, generationId: g.id, amountMicros: g.estimatedCostMicros, apiKeyId: null })),
        },
        end, this.tierDefaults(),
        { warnRatio: this.cfg.warnRatio, relaxed, cap: this.admission ? { maxActive: this.admission.maxQueuedPerUser, active: (u) => this.generations.activeCountOf(u) } : undefined },
        this.generations.insertStatement(this.store.manager, items.map((g) => running.get(g) ?? g)),
      );
      for (const u of perUser.keys()) this.changed(u, warned.includes(u));
      return items.map((g): AdmitResult => {
        const row = running.get(g);
        return row ? { kind: "inserted", running: row } : { kind: "inserted" };
      });
    } catch (err) {
      for (const g of items) Object.assign(g, { reservedMicros: 0, quotaPeriodStart: null });
      // Refused (division_by_zero: someone's batch does not fit whole, or their count may be stale), or a lock conflict.
      if (sqlState(err) === "22012" || isRetryableTransactionError(err)) {
        // A user at their budget or cap keeps being refused: their next batches take the long way at once for a while
        // (no refused statement first, and no error line in Postgres's log for every one of them).
        for (const u of perUser.keys()) this.refusedLately.set(u, true);
        return null;
      }
      throw err;
    }
  }

  /** Before an attempt after the first: reserve its worst case too, or refuse (false). */
  async extend(gen: GenerationEntity, attemptNo: number): Promise<boolean> {
    const periodStart = gen.quotaPeriodStart;
    if (!periodStart || gen.estimatedCostMicros <= 0) return true;
    const amount = gen.estimatedCostMicros;
    let warn = false;
    const outcome = await retryTransaction(() => this.store.transaction(async (tx): Promise<"extended" | "already" | "refused"> => {
      warn = false;
      const prior = await this.store.extended(tx, gen.id, attemptNo);
      if (prior.done) return "already";
      // The generation row first, then its quota row, then its key's: the global lock order (a cancel takes them in this order too).
      if (!(await this.generations.lockRunning(tx, gen.id, gen.runAttempt))) return "refused";
      const q = await this.store.lockPeriod(tx, gen.userId, periodStart);
      if (!q || Number(q.spent_micros) + Number(q.reserved_micros) + amount > Number(q.limit_micros)) return "refused";
      if (prior.apiKeyId) {
        const k = await this.store.lockKeyPeriod(tx, prior.apiKeyId, periodStart);
        if (!k || Number(k.spent_micros) + Number(k.reserved_micros) + amount > Number(k.limit_micros)) return "refused";
        await this.store.extendKeyPeriod(tx, prior.apiKeyId, periodStart, amount);
      }
      await this.generations.addReserved(tx, gen.id, amount);
      const limit = Number(q.limit_micros);
      const crosses = limit > 0 && Number(q.spent_micros) + Number(q.reserved_micros) + amount >= this.cfg.warnRatio * limit;
      warn = await this.store.extendPeriod(tx, gen.userId, periodStart, amount, crosses, q.warned_at);
      await this.store.insertExtension(tx, gen.userId, periodStart, gen.id, attemptNo, amount, prior.apiKeyId);
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

  /** Users whose figures moved in this event-loop turn, and whether one of those moves crossed the warning. */
  private readonly moved = new Map<string, boolean>();

  /**
   * Tells quotaUpdated subscribers that the figures moved (they read them fresh): once per user per event-loop turn, so
   * the runs that end in one turn (a group commit's successes) cost one publish, and one read per subscriber, not one each.
   * A warning is never folded away: the turn's event is a QUOTA_WARNING if any of its moves crossed it.
   */
  changed(userId: string, warning: boolean): void {
    if (warning) for (const fn of this.warningHooks) fn(userId);
    if (!this.moved.size) setImmediate(() => this.publishMoved());
    this.moved.set(userId, this.moved.get(userId) === true || warning);
  }

  private publishMoved(): void {
    for (const [userId, warning] of this.moved) void this.bus.publish(Topic.QUOTA_UPDATED, userId, { userId, warning }).catch(() => undefined);
    this.moved.clear();
  }

  async get(viewer: Viewer, userId?: string): Promise<QuotaView> {
    const id = userId ?? viewer.userId;
    if (id !== viewer.userId && !isAdmin(viewer)) throw new ForbiddenError("Only admins can read another user's quota");
    if (!isUuid(id)) throw new NotFoundError("User", id);
    const { start, end } = periodOf(this.clock.now(), this.cfg.period);
    const u = await this.store.user(id);
    if (!u) throw new NotFoundError("User", id);
    const q = await this.store.period(id, start);
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
    const row = await retryTransaction(() => this.store.setUserLimit(userId, micros));
    if (!row) throw new NotFoundError("User", userId);
    const { start } = periodOf(this.clock.now(), this.cfg.period);
    const [free, pro, ent] = this.tierDefaults();
    const effective = micros ?? (row.tier === "free" ? free : row.tier === "pro" ? pro : ent);
    await retryTransaction(() => this.store.setPeriodLimit(userId, start, effective));
    this.changed(userId, false);
    return this.get(viewer, userId);
  }

  /** Rebuilds every period's balances (users' and budgeted keys') from the ledger; returns the periods that disagree. */
  async verify(): Promise<{ periods: number; mismatches: Record<string, unknown>[] }> {
    const [rows, keyRows] = await Promise.all([this.store.balances(), this.store.keyBalances()]);
    const off = (r: Record<string, string>) =>
      Number(r.spent_micros) !== Number(r.ledger_spent) || Number(r.reserved_micros) !== Number(r.ledger_reserved) || Number(r.requests) !== Number(r.ledger_requests);
    return { periods: rows.length + keyRows.length, mismatches: [...rows.filter(off), ...keyRows.filter(off)] };
  }

  /** The quota period now. */
  currentPeriod(): { periodStart: Date; periodEnd: Date } {
    const { start, end } = periodOf(this.clock.now(), this.cfg.period);
    return { periodStart: start, periodEnd: end };
  }

  /** A key's budget for the current period: null when the key has no budget row yet (nothing admitted under a budget). */
  async keyUsage(apiKeyId: string): Promise<{ limitMicros: number; spentMicros: number; reservedMicros: number; requests: number; periodStart: Date; periodEnd: Date } | null> {
    const { start, end } = periodOf(this.clock.now(), this.cfg.period);
    const k = await this.store.keyPeriod(apiKeyId, start);
    if (!k) return null;
    return { limitMicros: Number(k.limit_micros), spentMicros: Number(k.spent_micros), reservedMicros: Number(k.reserved_micros), requests: k.requests, periodStart: start, periodEnd: end };
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
