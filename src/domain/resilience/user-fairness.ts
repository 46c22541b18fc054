/**
 * Fairness without BullMQ Pro's groups: a cap on each user's generations running at once,
 * across every worker, kept in Redis as leases (a sorted set per user scored by expiry, so a
 * worker that dies leaks nothing). The cap binds only while other users have work queued (a
 * user alone with the queue may use every slot). A job over its user's cap is then parked: moved to delayed (a
 * safety-net delay) and listed in the user's parking list; when one of the user's runs ends,
 * the oldest parked job is promoted. One user flooding the queue cannot hold every worker
 * slot while other users' jobs wait behind theirs, and a parked job costs one bounce, not a
 * stream of retries.
 */
import type { Redis } from "ioredis";

const ACQUIRE = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZSCORE', KEYS[1], ARGV[3]) then return 1 end
if ARGV[6] ~= '1' and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1`;

export class UserFairness {
  private readonly others = new Map<string, { at: number; value: Promise<boolean> }>();

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
  }

  get enabled(): boolean {
    return this.cap > 0;
  }

  private key(userId: string): string {
    return `${this.prefix}:inflight:${userId}`;
  }

  /**
   * Takes one of the user's slots for this job; false when the user is at the cap while other
   * users have work waiting. With `force` the slot is taken whatever the count (the job runs over the cap).
   */
  async acquire(userId: string, jobId: string, force = false): Promise<boolean> {
    const now = Date.now();
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
    const value = this.othersQueued(userId).catch(() => true);
    this.others.set(userId, { at: now, value });
    if (this.others.size > 10_000) this.others.clear();
    return value;
  }

  async release(userId: string, jobId: string): Promise<void> {
    await this.redis.zrem(this.key(userId), jobId);
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
