/** The sweeper: finds generations whose job was lost and re-enqueues or expires them. */
import { int } from "../spec";

export const sweeper = {
  /** How often the sweeper runs (once per interval across all nodes), ms. */
  intervalMs: int("SWEEP_INTERVAL_MS", 15_000, 100),
  /** Only generations untouched this long are checked, ms. */
  graceMs: int("SWEEP_GRACE_MS", 10_000, 0),
  /** QUEUED/RUNNING generations older than this are failed (EXPIRED), ms (1 day). */
  maxAgeMs: int("GENERATION_MAX_AGE_MS", 86_400_000, 1000),
};
