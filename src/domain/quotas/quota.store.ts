/**
 * The quota tables (quota_periods, api_key_periods, spend_ledger) and the users' quota column, one coherent thing
 * (every statement that locks or moves a budget, in the one lock order): the
 * SQL of admission's reservation, extensions, per-user and per-key limits and the ledger check.
 * A key's row moves with its user's, always after it (lock order: users' rows, then keys'). Charges and
 * releases that move with a generation's transition are written into that transition's own
 * statement by GenerationStore (generation.store.ts), which also states the lock order.
 */
import type { DataSource } from "typeorm";
import type { Tier } from "../../config/config";
import { queryRows, type QueryOptions, type Row } from "../../db/query-rows";
import { RELAX_COMMIT } from "../../db/relaxed-commit";
import type { Tx } from "../generations/generation.store";

export interface QuotaRow {
  user_id: string;
  limit_micros: string;
  spent_micros: string;
  reserved_micros: string;
  warned_at: Date | null;
  /** With `active`: the user's QUEUED/RUNNING generations as the statement's snapshot saw them… */
  active?: number;
  /** …and whether that count is current: no admission of theirs committed between the snapshot and the lock. */
  fresh?: boolean;
}

/** A budgeted API key's row for one period. */
export interface KeyPeriodRow {
  api_key_id: string;
  limit_micros: string;
  spent_micros: string;
  reserved_micros: string;
}

/**
 * Admission's writes for one batch: per user, per budgeted key, and per generation admitted
 * (`apiKeyId` set when the reservation counts against its key's budget too).
 */
export interface Reservation {
  periodStart: Date;
  users: { userId: string; amountMicros: number; requests: number; warn: boolean }[];
  keys: { apiKeyId: string; amountMicros: number; requests: number }[];
  generations: { userId: string; generationId: string; amountMicros: number; apiKeyId: string | null }[];
}

export class QuotaStore {
  constructor(private readonly ds: DataSource) {}

  private rows<T = Row>(sql: string, params: unknown[], tx?: Tx, opts?: QueryOptions): Promise<T[]> {
    return queryRows<T>(tx ?? this.ds, sql, params, opts);
  }

  /** Runs `fn` in one transaction; pass its `tx` to this store's and GenerationStore's methods. */
  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    return this.ds.transaction(fn);
  }

  /**
   * Creates the users' rows for this period if needed and locks them, in one statement. An
   * INSERT … ON CONFLICT DO UPDATE locks rows in the order its SELECT yields them: user order,
   * the global lock order (one period here). `tierLimits`: free, pro, enterprise (micro-USD).
   */
  async lockPeriods(
    tx: Tx, userIds: string[], start: Date, end: Date, tierLimits: number[], opts: { relaxed?: boolean; active?: (userColumn: string) => string } = {},
  ): Promise<Map<string, QuotaRow>> {
    // `relaxed`: the transaction's commit does not wait for the disk (db/relaxed-commit.ts), set by this statement (no round trip of its own).
    // `active`: each user's QUEUED/RUNNING count (the generation store's expression), read in this statement (no round trip of its own). Its snapshot is the
    // statement's start, before the row lock may have waited for another node's admission: `fresh` compares the request count
    // that snapshot saw with the locked row's (every admission raises it in its commit); where they differ, the caller counts again.
    const active = opts.active
      ? `, ${opts.active("quota_periods.user_id")} AS active,
         (SELECT s.requests FROM quota_periods s WHERE s.user_id = quota_periods.user_id AND s.period_start = quota_periods.period_start)
           IS NOT DISTINCT FROM quota_periods.requests AS fresh`
      : "";
    const rows = await this.rows<QuotaRow>(
      `INSERT INTO quota_periods (user_id, period_start, period_end, limit_micros)
       SELECT u.id, $2, $3, COALESCE(u.quota_limit_micros, CASE u.tier WHEN 'free' THEN $4::bigint WHEN 'pro' THEN $5::bigint ELSE $6::bigint END)
         FROM users u WHERE u.id = ANY($1::uuid[]) ORDER BY u.id
       ON CONFLICT (user_id, period_start) DO UPDATE SET period_end = EXCLUDED.period_end
       RETURNING user_id, limit_micros, spent_micros, reserved_micros, warned_at${active}${opts.relaxed ? `, ${RELAX_COMMIT} AS relaxed` : ""}`,
      [userIds, start, end, ...tierLimits], tx, { prepare: true },
    );
    return new Map(rows.map((r) => [r.user_id, r]));
  }

  /**
   * Creates the budgeted keys' rows for this period if needed (the limit: the key's budget now)
   * and locks them in key order; keys without a budget get none. Call after lockPeriods.
   */
  async lockKeyPeriods(tx: Tx, apiKeyIds: string[], start: Date): Promise<Map<string, KeyPeriodRow>> {
    const rows = await this.rows<KeyPeriodRow>(
      `INSERT INTO api_key_periods (api_key_id, period_start, limit_micros)
       SELECT k.id, $2, k.budget_micros FROM api_keys k WHERE k.id = ANY($1::uuid[]) AND k.budget_micros IS NOT NULL ORDER BY k.id
       ON CONFLICT (api_key_id, period_start) DO UPDATE SET limit_micros = EXCLUDED.limit_micros
       RETURNING api_key_id, limit_micros, spent_micros, reserved_micros`,
      [apiKeyIds, start], tx,
    );
    return new Map(rows.map((r) => [r.api_key_id, r]));
  }

  /** An EntityManager outside any transaction: for another store's statement parts built for a statement of this one's. */
  get manager(): Tx {
    return this.ds.manager;
  }

  /**
   * Admission in one autocommit statement, for a batch without key budgets: the users' rows for this period are
   * created if needed and locked (user order, as {@link lockPeriods}), the batch's reservation, request count and
   * warning mark written in the same upsert, the ledger entries and `first` (the generations' INSERT and first
   * attempts) beside them. It succeeds only when every user's batch fits whole: the budget (spent + reserved ≤ limit
   * after it), `maxActive` (the QUEUED/RUNNING count the statement's snapshot saw, plus the batch), and that count
   * being current (no admission of theirs committed between the snapshot and the lock: the locked row's request
   * count, before this batch, equals the snapshot's). Otherwise it fails with division_by_zero (22012), so nothing
   * of it stays, and the caller admits the batch the long way (a transaction that answers each member). Returns the
   * users whose warning mark this statement set. (A batch over budget fails in the upsert's own SET, before the row is
   * written: no state over the limit exists even uncommitted.)
   */
  async admitInOne(
    r: Omit<Reservation, "keys">, end: Date, tierLimits: number[],
    o: { warnRatio: number; relaxed: boolean; cap?: { maxActive: number; active: (userColumn: string) => string } },
    first: { ctes: string; params: unknown[] },
  ): Promise<string[]> {
    const n = first.params.length;
    // Without a per-user cap the count is not needed, nor its freshness (the budget is read from the locked row itself).
    const capped = o.cap
      ? `AND COALESCE(snap.requests, 0) = q.requests - v.n
                         AND snap.active + v.n <= $10::int`
      : "AND $10::int >= 0"; // (every parameter is referenced, so each has a type)
    // The arrays are unnested through sub-selects: a custom plan would see each array's length (unnest's row estimate) and
    // come out cheaper than the generic plan, so Postgres would plan the statement afresh at every execution (bind 0.47 ms
    // against 0.04, measured). Behind a sub-select both plans estimate alike and the generic one is kept after the fifth run.
    const own = `v AS (
         SELECT * FROM unnest((SELECT $1::uuid[]), (SELECT $2::bigint[]), (SELECT $3::int[])) AS v(user_id, amount, n)
       ), snap AS (
         SELECT v.user_id, s.requests, ${o.cap ? o.cap.active("v.user_id") : "0"} AS active
           FROM v LEFT JOIN quota_periods s ON s.user_id = v.user_id AND s.period_start = $4::timestamptz
       ), q AS (
         INSERT INTO quota_periods AS qp (user_id, period_start, period_end, limit_micros, reserved_micros, requests, warned_at)
         SELECT u.id, $4::timestamptz, $5::timestamptz, l.limit_micros, v.amount * (1 / (CASE WHEN v.amount <= l.limit_micros THEN 1 ELSE 0 END)), v.n, CASE WHEN l.limit_micros > 0 AND v.amount >= $9::float8 * l.limit_micros THEN now() END
           FROM users u JOIN v ON v.user_id = u.id
          CROSS JOIN LATERAL (SELECT COALESCE(u.quota_limit_micros, CASE u.tier WHEN 'free' THEN $6::bigint WHEN 'pro' THEN $7::bigint ELSE $8::bigint END) AS limit_micros) l
          ORDER BY u.id
         ON CONFLICT (user_id, period_start) DO UPDATE SET period_end = EXCLUDED.period_end,
                -- a batch that does not fit fails here, before the row is written (not even an uncommitted overspent row)
                reserved_micros = qp.reserved_micros
                  + EXCLUDED.reserved_micros * (1 / (CASE WHEN qp.spent_micros + qp.reserved_micros + EXCLUDED.reserved_micros <= qp.limit_micros THEN 1 ELSE 0 END)),
                requests = qp.requests + EXCLUDED.requests,
                warned_at = CASE WHEN qp.warned_at IS NULL AND qp.limit_micros > 0
                                  AND qp.spent_micros + qp.reserved_micros + EXCLUDED.reserved_micros >= $9::float8 * qp.limit_micros
                                 THEN now() ELSE qp.warned_at END
         RETURNING qp.user_id, qp.limit_micros, qp.spent_micros, qp.reserved_micros, qp.requests, qp.warned_at IS NOT DISTINCT FROM now() AS warned_now
       ), ledger AS (
         INSERT INTO spend_ledger (user_id, period_start, generation_id, attempt_no, kind, amount_micros, api_key_id)
         SELECT g.user_id, $4::timestamptz, g.generation_id, 0, 'reserve', g.amount, NULL
           FROM unnest((SELECT $11::uuid[]), (SELECT $12::uuid[]), (SELECT $13::bigint[])) AS g(user_id, generation_id, amount)
       )
       SELECT q.user_id, q.warned_now,
              1 / (CASE WHEN TRUE ${capped} THEN 1 ELSE 0 END) AS admitted${o.relaxed ? `, ${RELAX_COMMIT} AS relaxed` : ""}
         FROM q JOIN v ON v.user_id = q.user_id JOIN snap ON snap.user_id = q.user_id`;
    const sql = `WITH ${first.ctes}, ${own.replace(/\$(\d+)/g, (_, d: string) => `$${Number(d) + n}`)}`;
    const rows = await this.rows<{ user_id: string; warned_now: boolean }>(
      sql,
      [
        ...first.params,
        r.users.map((u) => u.userId), r.users.map((u) => u.amountMicros), r.users.map((u) => u.requests), r.periodStart, end, ...tierLimits,
        o.warnRatio, o.cap?.maxActive ?? 0,
        r.generations.map((g) => g.userId), r.generations.map((g) => g.generationId), r.generations.map((g) => g.amountMicros),
      ],
      undefined,
      { prepare: r.generations.length <= 4 },
    );
    return rows.filter((x) => x.warned_now).map((x) => x.user_id);
  }

  /**
   * Reservation, request count, warning mark and ledger entries, the users' and the keys': one statement.
   * `first`: another store's CTEs (the admitted generations' INSERT and their first attempts) run as part of this one, so
   * the rows and their reservation cost one round trip (the ledger's foreign key is checked at the
   * statement's end, when the inserted generations are there).
   */
  async reserve(tx: Tx, r: Reservation, first?: { ctes: string; params: unknown[] }): Promise<void> {
    const n = first?.params.length ?? 0;
    const own = `q AS (
         UPDATE quota_periods qp SET reserved_micros = qp.reserved_micros + v.amount, requests = qp.requests + v.n,
                warned_at = CASE WHEN v.warn AND qp.warned_at IS NULL THEN now() ELSE qp.warned_at END
           FROM unnest($1::uuid[], $2::bigint[], $3::int[], $4::boolean[]) AS v(user_id, amount, n, warn)
          WHERE qp.user_id = v.user_id AND qp.period_start = $5
       ), k AS (
         UPDATE api_key_periods kp SET reserved_micros = kp.reserved_micros + v.amount, requests = kp.requests + v.n
           FROM unnest($10::uuid[], $11::bigint[], $12::int[]) AS v(api_key_id, amount, n)
          WHERE kp.api_key_id = v.api_key_id AND kp.period_start = $5
       )
       INSERT INTO spend_ledger (user_id, period_start, generation_id, attempt_no, kind, amount_micros, api_key_id)
       SELECT v.user_id, $5, v.generation_id, 0, 'reserve', v.amount, v.api_key_id
         FROM unnest($6::uuid[], $7::uuid[], $8::bigint[], $9::uuid[]) AS v(user_id, generation_id, amount, api_key_id)`;
    // The other statement's parameters come first; this one's are numbered after them.
    const sql = first ? `WITH ${first.ctes}, ${own.replace(/\$(\d+)/g, (_, d: string) => `$${Number(d) + n}`)}` : `WITH ${own}`;
    await this.rows(
      sql,
      [
        ...(first?.params ?? []),
        r.users.map((u) => u.userId), r.users.map((u) => u.amountMicros), r.users.map((u) => u.requests), r.users.map((u) => u.warn), r.periodStart,
        r.generations.map((g) => g.userId), r.generations.map((g) => g.generationId), r.generations.map((g) => g.amountMicros), r.generations.map((g) => g.apiKeyId),
        r.keys.map((k) => k.apiKeyId), r.keys.map((k) => k.amountMicros), r.keys.map((k) => k.requests),
      ],
      tx,
      // The INSERT's text grows with its rows: prepared for the small batches a quiet server sends (a few texts), not for every size.
      { prepare: r.generations.length <= 4 },
    );
  }

  /**
   * Whether this attempt's extension is already in the ledger, and the key whose budget the
   * generation's reservation counts against (null: none).
   */
  async extended(tx: Tx, generationId: string, attemptNo: number): Promise<{ done: boolean; apiKeyId: string | null }> {
    const rows = await this.rows<{ kind: string; api_key_id: string | null }>(
      `SELECT kind, api_key_id FROM spend_ledger WHERE generation_id = $1 AND ((attempt_no = $2 AND kind = 'extend') OR (attempt_no = 0 AND kind = 'reserve'))`,
      [generationId, attemptNo], tx,
    );
    return { done: rows.some((r) => r.kind === "extend"), apiKeyId: rows.find((r) => r.kind === "reserve")?.api_key_id ?? null };
  }

  /** Locks one key's row for a period; null when it does not exist. Call after the user's row. */
  async lockKeyPeriod(tx: Tx, apiKeyId: string, periodStart: Date): Promise<Omit<KeyPeriodRow, "api_key_id"> | null> {
    const [k] = await this.rows<Omit<KeyPeriodRow, "api_key_id">>(
      `SELECT limit_micros, spent_micros, reserved_micros FROM api_key_periods WHERE api_key_id = $1 AND period_start = $2 FOR NO KEY UPDATE`,
      [apiKeyId, periodStart], tx,
    );
    return k ?? null;
  }

  async extendKeyPeriod(tx: Tx, apiKeyId: string, periodStart: Date, amountMicros: number): Promise<void> {
    await this.rows(`UPDATE api_key_periods SET reserved_micros = reserved_micros + $3 WHERE api_key_id = $1 AND period_start = $2`, [apiKeyId, periodStart, amountMicros], tx);
  }

  /** A key's row for a period (null: the key had no budget when anything was admitted). */
  async keyPeriod(apiKeyId: string, periodStart: Date): Promise<(KeyPeriodRow & { requests: number }) | null> {
    const [k] = await this.rows<KeyPeriodRow & { requests: number }>(`SELECT * FROM api_key_periods WHERE api_key_id = $1 AND period_start = $2`, [apiKeyId, periodStart]);
    return k ?? null;
  }

  /** Locks one user's row for a period; null when it does not exist. */
  async lockPeriod(tx: Tx, userId: string, periodStart: Date): Promise<Omit<QuotaRow, "user_id"> | null> {
    const [q] = await this.rows<Omit<QuotaRow, "user_id">>(
      `SELECT limit_micros, spent_micros, reserved_micros, warned_at FROM quota_periods WHERE user_id = $1 AND period_start = $2 FOR NO KEY UPDATE`,
      [userId, periodStart], tx,
    );
    return q ?? null;
  }

  /**
   * Reserves `amount` more on the period and marks the warning if `crosses`; true when this
   * statement is the one that marked it (`warnedAt`: the mark as read under the lock).
   */
  async extendPeriod(tx: Tx, userId: string, periodStart: Date, amountMicros: number, crosses: boolean, warnedAt: Date | null): Promise<boolean> {
    const [row] = await this.rows<{ warned: boolean }>(
      `UPDATE quota_periods SET reserved_micros = reserved_micros + $3,
              warned_at = CASE WHEN $4 AND warned_at IS NULL THEN now() ELSE warned_at END
        WHERE user_id = $1 AND period_start = $2 RETURNING (warned_at IS NOT NULL AND $4 AND $5::timestamptz IS NULL) AS warned`,
      [userId, periodStart, amountMicros, crosses, warnedAt], tx,
    );
    return !!row?.warned;
  }

  async insertExtension(tx: Tx, userId: string, periodStart: Date, generationId: string, attemptNo: number, amountMicros: number, apiKeyId: string | null): Promise<void> {
    await this.rows(
      `INSERT INTO spend_ledger (user_id, period_start, generation_id, attempt_no, kind, amount_micros, api_key_id) VALUES ($1, $2, $3, $4, 'extend', $5, $6)`,
      [userId, periodStart, generationId, attemptNo, amountMicros, apiKeyId], tx,
    );
  }

  /** The user's tier and own limit (null = the tier's); null when there is no such user. */
  async user(userId: string): Promise<{ id: string; tier: Tier; quota_limit_micros: string | null } | null> {
    const [u] = await this.rows<{ id: string; tier: Tier; quota_limit_micros: string | null }>(`SELECT id, tier, quota_limit_micros FROM users WHERE id = $1`, [userId]);
    return u ?? null;
  }

  async period(userId: string, periodStart: Date): Promise<(QuotaRow & { requests: number }) | null> {
    const [q] = await this.rows<QuotaRow & { requests: number }>(`SELECT * FROM quota_periods WHERE user_id = $1 AND period_start = $2`, [userId, periodStart]);
    return q ?? null;
  }

  /** Sets the user's own limit (null = the tier's); the user's tier, or null when there is no such user. */
  async setUserLimit(userId: string, micros: number | null): Promise<{ tier: Tier } | null> {
    const [row] = await this.rows<{ tier: Tier }>(`UPDATE users SET quota_limit_micros = $2 WHERE id = $1 RETURNING tier`, [userId, micros]);
    return row ?? null;
  }

  async setPeriodLimit(userId: string, periodStart: Date, limitMicros: number): Promise<void> {
    await this.rows(`UPDATE quota_periods SET limit_micros = $3 WHERE user_id = $1 AND period_start = $2`, [userId, periodStart, limitMicros]);
  }

  /** Every period's balances beside the ones its ledger adds up to. */
  balances(): Promise<Record<string, string>[]> {
    return this.rows(`
      SELECT qp.user_id, qp.period_start, qp.spent_micros, qp.reserved_micros, qp.requests,
             COALESCE(l.charged, 0) AS ledger_spent, COALESCE(l.held, 0) AS ledger_reserved, COALESCE(l.reserves, 0) AS ledger_requests
        FROM quota_periods qp
        LEFT JOIN (
          SELECT user_id, period_start,
                 SUM(amount_micros) FILTER (WHERE kind = 'charge') AS charged,
                 SUM(CASE kind WHEN 'reserve' THEN amount_micros WHEN 'extend' THEN amount_micros WHEN 'release' THEN -amount_micros ELSE 0 END) AS held,
                 COUNT(*) FILTER (WHERE kind = 'reserve') AS reserves
            FROM spend_ledger GROUP BY 1, 2
        ) l ON l.user_id = qp.user_id AND l.period_start = qp.period_start`, []);
  }

  /** Every budgeted key's period balances beside the ones the ledger entries naming it add up to. */
  keyBalances(): Promise<Record<string, string>[]> {
    return this.rows(`
      SELECT kp.api_key_id, kp.period_start, kp.spent_micros, kp.reserved_micros, kp.requests,
             COALESCE(l.charged, 0) AS ledger_spent, COALESCE(l.held, 0) AS ledger_reserved, COALESCE(l.reserves, 0) AS ledger_requests
        FROM api_key_periods kp
        LEFT JOIN (
          SELECT api_key_id, period_start,
                 SUM(amount_micros) FILTER (WHERE kind = 'charge') AS charged,
                 SUM(CASE kind WHEN 'reserve' THEN amount_micros WHEN 'extend' THEN amount_micros WHEN 'release' THEN -amount_micros ELSE 0 END) AS held,
                 COUNT(*) FILTER (WHERE kind = 'reserve') AS reserves
            FROM spend_ledger WHERE api_key_id IS NOT NULL GROUP BY 1, 2
        ) l ON l.api_key_id = kp.api_key_id AND l.period_start = kp.period_start`, []);
  }
}
