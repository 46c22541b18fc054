/**
 * The BullMQ prefix of one queue. BullMQ's scripts touch many keys of one queue at once; on a
 * Redis Cluster they must share a slot, so each queue gets its own hash tag (`<prefix>:{<queue>}`:
 * queues spread over the cluster, each queue's keys in one slot). On a single Redis the prefix
 * is REDIS_PREFIX unchanged, so existing queues keep their jobs.
 */
import { hashTag, type MaybeCluster } from "../common/hash-tag";

export const queuePrefix = (prefix: string, queue: string, connection: unknown): string =>
  connection && typeof connection === "object" && (connection as MaybeCluster).isCluster ? `${prefix}:${hashTag(connection as MaybeCluster, queue)}` : prefix;
