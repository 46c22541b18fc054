/**
 * Fairness without BullMQ Pro's groups: a cap on each user's generations running at once,
 * across every worker, kept in Redis as leases (a sorted set per user scored by expiry, so a
 * worker that dies leaks nothing). The cap binds only while other users have work queued (a
 * user alone with the queue may use every slot). A job over its user's cap is then parked: moved to delayed (a
 * safety-net delay) and listed in the user's parking list; when one of the user's runs ends,
 * the oldest parked job is promoted. One user flooding the queue cannot hold every worker
 * slot while other users' jobs wait behind theirs, and a parked job costs one bounce, not a
 * stream of retries. On a Redis Cluster a user's leases and parking list share a hash tag (the user id).
 */
import type { Redis } from "ioredis";
import { hashTag } from "../../common/hash-tag";

const ACQUIRE = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZSCORE', KEYS[1], ARGV[3]) then return 1 end
if ARGV[6] ~= '1' and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1`;

/** A run ended: its slot is freed and the user's oldest parked job taken off the list, in one round trip. */
const RELEASE = `
redis.call('ZREM', KEYS[1], ARGV[1])
return redis.call('LPOP', KEYS[2])`;

export class UserFairness {
  private readonly others = new Map<string, { at: number; value: Promise<boolean>; known?: boolean }>();

  /**
   * @param othersQueued whether any other user has generations waiting: the cap only binds then
   *   (work-conserving: a user alone with the queue may use every slot). Cached 250 ms per user.
   */
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    readonly cap: number,
    private readonly leaseMs: number,
    private readonly othersQueued: (userId: string) => Promise<boolean> = async () => true,
  ) {
    redis.defineCommand("sbFairAcquire", { numberOfKeys: 1, lua: ACQUIRE });
    redis.defineCommand("sbFairRelease", { numberOfKeys: 2, lua: RELEASE });
  }

  get enabled(): boolean {
    return this.cap > 0;
  }

  private key(userId: string): string {
    return `${this.prefix}:inflight:${hashTag(this.redis, userId)}`;
  }

  /**
   * Takes one of the user's slots for this job; false when the user is at the cap while other
   * users have work waiting. With `force` the slot is taken whatever the count (the job runs over the cap).
   */
  async acquire(userId: string, jobId: string, force = false): Promise<boolean> {
    const now = Date.now();
    // Known (from the 250 ms copy) that nobody else is waiting: the cap cannot bind, take the slot in one call, not two.
    const hit = this.others.get(userId);
    if (!force && hit?.known === false && now - hit.at < 250) force = true;
    const ok = await (this.redis as unknown as { sbFairAcquire(k: string, ...a: (string | number)[]): Promise<number> }).sbFairAcquire(
      this.key(userId), now, now + this.leaseMs, jobId, this.cap, this.leaseMs + 60_000, force ? "1" : "0",
    );
    if (ok === 1 || force) return true;
    // Over the cap: it binds only while someone else is waiting; alone, the user may use every slot.
    if (await this.othersWaiting(userId)) return false;
    return this.acquire(userId, jobId, true);
  }

  private othersWaiting(userId: string): Promise<boolean> {
    const now = Date.now();
    const hit = this.others.get(userId);
    if (hit && now - hit.at < 250) return hit.value;
    const entry: { at: number; value: Promise<boolean>; known?: boolean } = { at: now, value: this.othersQueued(userId).catch(() => true) };
    void entry.value.then((v) => (entry.known = v));
    const value = entry.value;
    this.others.set(userId, entry);
    if (this.others.size > 10_000) this.others.clear();
    return value;
  }

  async release(userId: string, jobId: string): Promise<void> {
    await this.redis.zrem(this.key(userId), jobId);
  }

  /** release, then unpark, in one round trip: the user's oldest parked job (taken off the list), or null. */
  async releaseAndUnpark(userId: string, jobId: string): Promise<string | null> {
    return (this.redis as unknown as { sbFairRelease(k: string, p: string, j: string): Promise<string | null> }).sbFairRelease(this.key(userId), `${this.key(userId)}:parked`, jobId);
  }

  /** The longest a parked job waits if no promotion reaches it (a worker died, a race): then it is simply tried again. */
  static readonly PARK_MS = 5_000;

  /** Lists a job (already moved to delayed) as waiting for one of its user's slots; true when a slot is free right now. */
  async park(userId: string, jobId: string): Promise<boolean> {
    const now = Date.now();
    const [, , , count] = (await this.redis
      .multi()
      .rpush(`${this.key(userId)}:parked`, jobId)
      .pexpire(`${this.key(userId)}:parked`, this.leaseMs + 60_000)
      .zremrangebyscore(this.key(userId), "-inf", now)
      .zcard(this.key(userId))
      .exec())!.map(([, v]) => v) as [number, number, number, number];
    return count < this.cap;
  }

  /** The user's oldest parked job, taken off the list (to be promoted), or null. */
  async unpark(userId: string): Promise<string | null> {
    return this.redis.lpop(`${this.key(userId)}:parked`);
  }
}
