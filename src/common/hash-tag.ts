/**
 * Redis Cluster hash tags. On a cluster every key a Lua script or MULTI touches must hash to one
 * slot; the part of a key name inside `{…}` is what is hashed, so the keys one atomic step
 * touches share a tag. On a single Redis key names stay exactly as they always were (no tag), so
 * an existing deployment keeps its data.
 */

/** Anything that says whether it talks to a cluster (an ioredis Redis or Cluster). */
export interface MaybeCluster {
  readonly isCluster?: boolean;
}

/** `{part}` on a Redis Cluster, `part` on a single Redis. */
export const hashTag = (redis: MaybeCluster, part: string): string => (redis.isCluster ? `{${part}}` : part);

/**
 * A stable bucket in [0, n) for an id (FNV-1a): spreads per-id key families over n slots
 * while one script still sees every key of one id, and of its bucket's shared set, in one slot.
 */
export function bucketOf(id: string, n: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % n;
}
