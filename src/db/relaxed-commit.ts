/**
 * Relaxed commits: a transaction whose commit does not wait for its WAL to reach the disk
 * (`synchronous_commit = off` for that transaction only). Its changes are visible to every
 * session at once and survive the death of the process that made them (Postgres flushes the
 * WAL within `wal_writer_delay`, 200 ms by default); only a crash of Postgres itself in that
 * window loses them. Used where a later synchronous commit on the same path makes the state
 * durable before anyone is told (the fast sync path's admission, every claim), never for a
 * charge or a terminal state. `set_config(…, true)` lasts until the end of the transaction;
 * inside a single autocommit statement it relaxes that statement's commit at no extra round trip, and
 * inside a transaction's first statement it relaxes that transaction's commit the same way.
 */

/** A SQL boolean expression that relaxes the commit of the transaction evaluating it (always true). */
export const RELAX_COMMIT = `(set_config('synchronous_commit', 'off', true) IS NOT NULL)`;
