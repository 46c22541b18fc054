/**
 * Provider-wide fault injection for the simulated providers (drills, fault tests, the
 * resilience benchmark): a failure rate, a failure kind and added latency per simulated
 * provider, kept in Redis so every worker sees it, and polled (every 200 ms) so a call never
 * waits on Redis for it. Only simulated providers can be faulted; real ones never are.
 */
import type { Redis } from "ioredis";
import type { ProviderFaults } from "../../providers/simulated/simulated.provider";

export class SimulatedFaults {
  private readonly current = new Map<string, ProviderFaults>();
  private timer?: NodeJS.Timeout;

  constructor(private readonly redis: Redis, private readonly prefix: string, private readonly ids: string[]) {}

  private key(id: string): string {
    return `${this.prefix}:sim-faults:${id}`;
  }

  get(id: string): ProviderFaults | undefined {
    return this.current.get(id);
  }

  async refresh(): Promise<void> {
    const pipe = this.redis.pipeline();
    for (const id of this.ids) pipe.get(this.key(id));
    const res = (await pipe.exec()) ?? [];
    this.ids.forEach((id, i) => {
      const raw = res[i]?.[1] as string | null;
      if (raw) this.current.set(id, JSON.parse(raw));
      else this.current.delete(id);
    });
  }

  async start(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => void this.refresh().catch(() => undefined), 200);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  async set(id: string, faults: ProviderFaults | null): Promise<void> {
    if (faults) await this.redis.set(this.key(id), JSON.stringify(faults));
    else await this.redis.del(this.key(id));
    await this.refresh();
  }
}
