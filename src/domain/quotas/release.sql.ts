/**
 * SQL fragments for every statement that moves money on quota rows outside admission.
 *
 * Lock order (the whole system's): a statement or transaction locks the generation rows it
 * changes first, then quota_periods rows in (user_id, period_start) order — admission's upsert
 * and QuotaService.extend do the same. An UPDATE … FROM locks rows in whatever order its plan
 * meets them (a hash aggregate's, in practice), so each fragment first locks the rows it will
 * update in a MATERIALIZED `… ORDER BY user_id, period_start FOR NO KEY UPDATE` CTE, and the
 * UPDATE joins that CTE: it can only reach a row the CTE has already locked, in order.
 */

/** Locks the quota rows named by `source` (user_id, period_start), in the global order. */
const lockQuotaRows = (name: string, source: string) => `
  , ${name} AS MATERIALIZED (
    SELECT qp.user_id, qp.period_start FROM quota_periods qp
     WHERE (qp.user_id, qp.period_start) IN (${source})
     ORDER BY qp.user_id, qp.period_start
       FOR NO KEY UPDATE
  )`;

/**
 * Appended to every statement that moves a generation to a terminal state (as CTE `g`):
 * releases its whole reservation once — the ledger's unique (generation, 0, 'release')
 * entry guards against doing it twice — and returns the generation rows.
 */
const RELEASE_LEDGER = `
  , rel AS (
    INSERT INTO spend_ledger (user_id, period_start, generation_id, attempt_no, kind, amount_micros)
    SELECT g.user_id, g.quota_period_start, g.id, 0, 'release', g.reserved_micros
      FROM g WHERE g.reserved_micros > 0 AND g.quota_period_start IS NOT NULL
    ON CONFLICT DO NOTHING
    RETURNING user_id, period_start, amount_micros
  )`;

export const RELEASE_AND_SELECT = `${RELEASE_LEDGER}${lockQuotaRows("relk", "SELECT user_id, period_start FROM rel")}, relq AS (
    UPDATE quota_periods qp SET reserved_micros = qp.reserved_micros - r.amount
      FROM (SELECT user_id, period_start, SUM(amount_micros) AS amount FROM rel GROUP BY 1, 2) r
      JOIN relk k ON k.user_id = r.user_id AND k.period_start = r.period_start
     WHERE qp.user_id = r.user_id AND qp.period_start = r.period_start
  )
  SELECT * FROM g`;

/**
 * Charges attempt costs (CTE `charged(generation_id, attempt_no, cost_micros)` must exist):
 * one ledger entry per attempt, spent moves only when the entry is new.
 */
export const CHARGE_LEDGER = `
  , chg AS (
    INSERT INTO spend_ledger (user_id, period_start, generation_id, attempt_no, kind, amount_micros)
    SELECT gen.user_id, gen.quota_period_start, gen.id, c.attempt_no, 'charge', c.cost_micros
      FROM charged c
      -- the payer: the generation that made the call, unless it was cancelled while others in
      -- its coalescing group still wait; then the oldest of those
      CROSS JOIN LATERAL (
        SELECT x.* FROM generations x WHERE x.id = c.generation_id OR x.group_id = c.generation_id
         ORDER BY (x.status <> 'CANCELLED') DESC, (x.id = c.generation_id) DESC, x.created_at LIMIT 1
      ) gen
     WHERE c.cost_micros > 0 AND gen.quota_period_start IS NOT NULL
    ON CONFLICT DO NOTHING
    RETURNING user_id, period_start, amount_micros
  )`;

export const CHARGE_CTES = `${CHARGE_LEDGER}${lockQuotaRows("chgk", "SELECT user_id, period_start FROM chg")}, chgq AS (
    UPDATE quota_periods qp SET spent_micros = qp.spent_micros + c.amount
      FROM (SELECT user_id, period_start, SUM(amount_micros) AS amount FROM chg GROUP BY 1, 2) c
      JOIN chgk k ON k.user_id = c.user_id AND k.period_start = c.period_start
     WHERE qp.user_id = c.user_id AND qp.period_start = c.period_start
  )`;

/**
 * Charge and release in one statement (after CHARGE_LEDGER and CTE `g`): ONE update per quota
 * row. Postgres applies only one of two updates a single statement makes to the same row, so
 * CHARGE_CTES + RELEASE_AND_SELECT together would lose either the charge or the release.
 */
export const CHARGE_RELEASE_AND_SELECT = `${RELEASE_LEDGER}${lockQuotaRows("qk", "SELECT user_id, period_start FROM chg UNION SELECT user_id, period_start FROM rel")}, q AS (
    UPDATE quota_periods qp SET spent_micros = qp.spent_micros + d.charged, reserved_micros = qp.reserved_micros - d.released
      FROM (SELECT user_id, period_start, SUM(charged) AS charged, SUM(released) AS released
              FROM (SELECT user_id, period_start, amount_micros AS charged, 0 AS released FROM chg
                    UNION ALL SELECT user_id, period_start, 0, amount_micros FROM rel) x GROUP BY 1, 2) d
      JOIN qk k ON k.user_id = d.user_id AND k.period_start = d.period_start
     WHERE qp.user_id = d.user_id AND qp.period_start = d.period_start
  )
  SELECT * FROM g`;
