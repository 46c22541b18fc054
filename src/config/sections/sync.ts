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
  /**
   * Generations one API process runs in-process at once; beyond them requests take the queue. A slot
   * is a run waiting on its upstream (little memory, no CPU while it waits), and a request that
   * overflows to the queue costs its API and worker processes more CPU than one run here (enqueue,
   * pickup, job lock, finish, a read of the row): at 16, 32 concurrent callers sent half their
   * requests through the queue and got 30–45% fewer answers per second than at 256 (bench:peers).
   */
  slots: int("SYNC_IN_PROCESS_SLOTS", 256, 1, 10_000),
  /**
   * An async createGeneration (no `wait`) takes the same path: it starts in the API process that
   * accepted it when one of its SYNC_IN_PROCESS_SLOTS is free (an eager start, as Temporal's eager
   * workflow start skips its task queue), under the same liveness lease and sweeper recovery, instead of
   * an enqueue, a worker's pickup and a claim. Off by default: async work goes to the workers through the
   * queue (what `serve --no-worker` API nodes and the workers' scale-out assume). Needs SYNC_IN_PROCESS.
   */
  async: bool("ASYNC_IN_PROCESS", false),
};
