/** Provider batch APIs (`priority: BATCH`): how generations are collected into one provider batch and polled (domain/batches/). */
import { int } from "../spec";

export const batch = {
  /** A collected batch is submitted as soon as it holds this many generations (per provider and model). */
  maxSize: int("BATCH_MAX_SIZE", 500, 1, 50_000),
  /** ... or when its first generation has waited this long, ms. */
  maxWaitMs: int("BATCH_MAX_WAIT_MS", 60_000, 0),
  /** How often a submitted batch is checked with the provider, ms (a delayed job per batch). */
  pollMs: int("BATCH_POLL_MS", 30_000, 50),
};
