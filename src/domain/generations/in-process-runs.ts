/**
 * The liveness leases of in-process runs (the fast sync path, sync-run.ts): one Redis key per
 * generation an API process runs itself, with an expiry the run pushes forward while it lives.
 * The generation has no job meanwhile, so the sweeper, which re-enqueues QUEUED/RUNNING
 * generations whose job is gone, asks here first: a live lease means its run is alive; an
 * expired one (the process died) means re-enqueue it, and a worker's claim takes it over.
 * The one module that reads or writes the `<prefix>:inproc:<id>` keys.
 */
import type { Redis } from "ioredis";

export class InProcessRuns {
  constructor(private readonly redis: Redis, private readonly prefix: string) {}

  private key(generationId: string): string {
    return `${this.prefix}:inproc:${generationId}`;
  }

  /** Takes (or pushes forward) the lease: it lapses `ms` from now unless pushed again. */
  async hold(generationId: string, ms: number): Promise<void> {
    await this.redis.set(this.key(generationId), "1", "PX", ms);
  }

  async drop(generationId: string): Promise<void> {
    await this.redis.del(this.key(generationId));
  }

  /** Whether a process is running this generation in-process right now. */
  async alive(generationId: string): Promise<boolean> {
    return (await this.redis.exists(this.key(generationId))) === 1;
  }
}
