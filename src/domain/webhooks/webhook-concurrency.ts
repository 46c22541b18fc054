/**
 * Caps on webhook deliveries in flight, across every worker: per destination (an endpoint,
 * or a callback URL's origin) and per user, kept in Redis as leases (sorted sets scored by
 * expiry, so a worker that dies leaks nothing). One unreachable endpoint then holds at most
 * its cap of worker slots while every other endpoint's deliveries keep flowing.
 *
 * A delivery over a cap is parked: moved to delayed (by the queue worker) and listed under
 * the cap that stopped it; when a delivery to that destination (or of that user) ends, the
 * oldest parked one is promoted — one bounce per delivery, not a stream of retries. A parked
 * delivery that no promotion reaches (a worker died meanwhile) is tried again after a safety
 * delay that grows with the queue ahead of it. Every key of one user shares a hash tag, so
 * each script touches one Redis Cluster slot.
 */
import type { Redis } from "ioredis";

/** Which cap stopped a delivery. */
export type CapHit = "destination" | "user";

// KEYS: destination leases, user leases, the parked set, destination's parked list, user's parked list.
// Returns {0} with a slot taken, or {cap hit (1 destination, 2 user), length of its parked list}.
const ACQUIRE = `
redis.call('SREM', KEYS[3], ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
local dcap = tonumber(ARGV[4])
local ucap = tonumber(ARGV[5])
if dcap > 0 and not redis.call('ZSCORE', KEYS[1], ARGV[3]) and redis.call('ZCARD', KEYS[1]) >= dcap then return { 1, redis.call('LLEN', KEYS[4]) } end
if ucap > 0 and not redis.call('ZSCORE', KEYS[2], ARGV[3]) and redis.call('ZCARD', KEYS[2]) >= ucap then return { 2, redis.call('LLEN', KEYS[5]) } end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[6])
return { 0 }`;

// KEYS: the parked list, the parked set, destination leases, user leases.
const PARK = `
redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', ARGV[3])
local dcap = tonumber(ARGV[4])
local ucap = tonumber(ARGV[5])
local free = (dcap == 0 or redis.call('ZCARD', KEYS[3]) < dcap) and (ucap == 0 or redis.call('ZCARD', KEYS[4]) < ucap)
if free then return 1 end
return 0`;

// The oldest entry still parked (a job that ran meanwhile left the set; its entry is stale).
const UNPARK = `
while true do
  local id = redis.call('LPOP', KEYS[1])
  if not id then return false end
  if redis.call('SREM', KEYS[2], id) == 1 then return id end
end`;

interface Scripts {
  sbWhAcquire(...a: (string | number)[]): Promise<[number, number?]>;
  sbWhPark(...a: (string | number)[]): Promise<number>;
  sbWhUnpark(...a: string[]): Promise<string | null>;
}

export interface WebhookConcurrencyLimits {
  /** WEBHOOK_ENDPOINT_CONCURRENCY: deliveries in flight to one destination, 0 = no cap. */
  perDestination: number;
  /** WEBHOOK_USER_CONCURRENCY: one user's deliveries in flight, 0 = no cap. */
  perUser: number;
  /** How long one attempt may hold its slot (WEBHOOK_TIMEOUT_MS); a lease outlives it, then frees itself. */
  attemptTimeoutMs: number;
}

/** The longest a parked delivery waits for a promotion before it is simply tried again. */
export const MAX_PARK_MS = 60_000;

export class WebhookConcurrency {
  private readonly leaseMs: number;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    readonly limits: WebhookConcurrencyLimits,
  ) {
    this.leaseMs = limits.attemptTimeoutMs + 30_000;
    redis.defineCommand("sbWhAcquire", { numberOfKeys: 5, lua: ACQUIRE });
    redis.defineCommand("sbWhPark", { numberOfKeys: 4, lua: PARK });
    redis.defineCommand("sbWhUnpark", { numberOfKeys: 2, lua: UNPARK });
  }

  get enabled(): boolean {
    return this.limits.perDestination > 0 || this.limits.perUser > 0;
  }

  private get scripts(): Scripts {
    return this.redis as unknown as Scripts;
  }

  private keys(userId: string, destination: string) {
    const base = `${this.prefix}:whc:{${userId}}`;
    return {
      dest: `${base}:d:${destination}`,
      user: `${base}:u`,
      parkedDest: `${base}:d:${destination}:parked`,
      parkedUser: `${base}:u:parked`,
      parkedSet: `${base}:parked`,
    };
  }

  /**
   * Takes a slot for this job under both caps (null); otherwise which cap is full and how long
   * the job should wait parked at most (about its turn behind the ones parked already).
   */
  async acquire(userId: string, destination: string, jobId: string): Promise<{ hit: CapHit; safetyDelayMs: number } | null> {
    const k = this.keys(userId, destination);
    const now = Date.now();
    const [r, parked = 0] = await this.scripts.sbWhAcquire(
      k.dest, k.user, k.parkedSet, k.parkedDest, k.parkedUser, now, now + this.leaseMs, jobId, this.limits.perDestination, this.limits.perUser, this.leaseMs + 60_000,
    );
    if (r === 0) return null;
    const hit: CapHit = r === 1 ? "destination" : "user";
    return { hit, safetyDelayMs: this.safetyDelayMs(hit, parked + 1) };
  }

  async release(userId: string, destination: string, jobId: string): Promise<void> {
    const k = this.keys(userId, destination);
    await this.redis.multi().zrem(k.dest, jobId).zrem(k.user, jobId).exec();
  }

  /**
   * Lists a job (already moved to delayed) as waiting under the cap it hit; true when a slot
   * is free right now (a delivery ended meanwhile: promote one).
   */
  async park(userId: string, destination: string, jobId: string, hit: CapHit): Promise<boolean> {
    const k = this.keys(userId, destination);
    const free = await this.scripts.sbWhPark(hit === "destination" ? k.parkedDest : k.parkedUser, k.parkedSet, k.dest, k.user, jobId, this.leaseMs + 60_000, Date.now(), this.limits.perDestination, this.limits.perUser);
    return free === 1;
  }

  /** How long a job parked at `position` under `hit` waits for a promotion at most: about its turn, within [1 s, MAX_PARK_MS]. */
  private safetyDelayMs(hit: CapHit, position: number): number {
    const cap = Math.max(1, hit === "destination" ? this.limits.perDestination : this.limits.perUser);
    const turn = this.limits.attemptTimeoutMs * (1 + Math.floor(position / cap));
    return Math.min(MAX_PARK_MS, Math.max(1000, turn)) + Math.floor(Math.random() * 250);
  }

  /** The oldest job parked under the destination's (or the user's) cap, taken off its list, or null. */
  async unpark(userId: string, destination: string, hit: CapHit): Promise<string | null> {
    const k = this.keys(userId, destination);
    return this.scripts.sbWhUnpark(hit === "destination" ? k.parkedDest : k.parkedUser, k.parkedSet);
  }
}
