/** Redis for queues, pub/sub and shared state. */
import { list, str, url } from "../spec";

export const redis = {
  /** The Redis for queues, pub/sub and shared state (needs `maxmemory-policy noeviction`). */
  url: url("REDIS_URL", "redis://127.0.0.1:6379", ["redis:", "rediss:"]),
  /** Namespace for every key, queue and channel. */
  prefix: str("REDIS_PREFIX", "sb"),
  /**
   * Comma-separated `host:port` seed nodes of a Redis Cluster; set, they replace REDIS_URL's host
   * (its user, password and rediss: still apply to every node) and every key, script and queue
   * is hash-tagged so each atomic step stays in one slot. Default none: one Redis.
   */
  clusterNodes: list("REDIS_CLUSTER_NODES"),
};
