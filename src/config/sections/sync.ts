/** The fast sync path: a request that waits runs its own generation on the API node (domain/generations/sync-run.ts). */
import { bool, int } from "../spec";

export const sync = {
  /**
   * A createGeneration(wait) or /v1 request runs its generation in the API process when a local
   * slot is free (and its user is under USER_MAX_IN_FLIGHT), instead of a round trip through the
   * queue, under a liveness lease (JOB_LOCK_MS) the sweeper respects: if the process dies the lease
   * lapses and the sweeper re-enqueues the generation for a worker. /v1 streams take it too (they
   * follow the run's events). On by default; off: every request is queued.
   */
  inProcess: bool("SYNC_IN_PROCESS", true),
  /** Generations one API process runs in-process at once; beyond them requests take the queue. */
  slots: int("SYNC_IN_PROCESS_SLOTS", 16, 1, 10_000),
};
