/** Redis for queues, pub/sub and shared state. */
import { str, url } from "../spec";

export const redis = {
  /** The Redis for queues, pub/sub and shared state (needs `maxmemory-policy noeviction`). */
  url: url("REDIS_URL", "redis://127.0.0.1:6379", ["redis:", "rediss:"]),
  /** Namespace for every key, queue and channel. */
  prefix: str("REDIS_PREFIX", "sb"),
};
