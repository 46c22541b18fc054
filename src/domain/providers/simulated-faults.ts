/**
 * Provider-wide fault injection for the simulated providers (drills, fault tests, the
 * resilience benchmark): a failure rate, a failure kind and added latency per simulated
 * provider (or one of its models), kept in one Redis hash so every worker sees it, and polled
 * (every 200 ms) so a call never waits on Redis for it. Only simulated providers can be
 * faulted; real ones never are.
 */
import type { Redis } from "ioredis";
import type { ProviderFaults } from "../../providers/simulated/simulated.provider";

export class SimulatedFaults {
  private current = new Map<string, ProviderFaults>();
  private timer?: NodeJS.Timeout;

  constructor(private readonly redis: Redis, private readonly prefix: string) {}

  private get key(): string {
    return `${this.prefix}:sim-faults`;
  }

  /** The faults of a provider's model, else of the whole provider. */
  get(id: string, model?: string): ProviderFaults | undefined {
    return (model !== undefined ? this.current.get(`${id}/${model}`) : undefined) ?? this.current.get(id);
  }

  async refresh(): Promise<void> {
    const all = await this.redis.hgetall(this.key);
    this.current = new Map(Object.entries(all).map(([k, v]) => [k, JSON.parse(v) as ProviderFaults]));
  }

  async start(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => void this.refresh().catch(() => undefined), 200);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Sets (or, with null, clears) the faults of a provider or of one of its models. */
  async set(id: string, model: string | null, faults: ProviderFaults | null): Promise<void> {
    const field = model ? `${id}/${model}` : id;
    if (faults) await this.redis.hset(this.key, field, JSON.stringify(faults));
    else await this.redis.hdel(this.key, field);
    await this.refresh();
  }
}
