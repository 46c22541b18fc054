/**
 * The `health` query: Postgres, Redis, queue depth and every configured provider's last
 * health check, each check bounded in time. Admins also get each provider's key pool and
 * the error text of failed checks; others see statuses only.
 */
import type { Redis } from "ioredis";
import type { DataSource } from "typeorm";
import { pingPostgres } from "../../db/ping";
import type { ProviderService } from "../providers/provider.service";
import type { KeyStatus } from "../providers/key-pool";
import { isAdmin, type Viewer } from "../viewer";

export interface DependencyHealth {
  ok: boolean;
  latencyMs: number | null;
  /** Why it is not ok (admins only). */
  message: string | null;
}

export interface KeyPoolSummary {
  total: number;
  active: number;
  coolingDown: number;
  disabled: number;
  inFlight: number;
  /** Mean health (share of recent successes) of the keys that are not disabled; null without such keys. */
  health: number | null;
  keys: KeyStatus[];
}

export interface ProviderStatus {
  id: string;
  name: string;
  status: "UP" | "DOWN" | "UNKNOWN";
  checkedAt: Date | null;
  latencyMs: number | null;
  message: string | null;
  /** Admins only; null for providers without keys. */
  keyPool: KeyPoolSummary | null;
}

export interface HealthReport {
  /** DOWN: Postgres or Redis is unreachable. DEGRADED: a provider is down or has no usable key. OK otherwise. */
  status: "OK" | "DEGRADED" | "DOWN";
  checkedAt: Date;
  postgres: DependencyHealth;
  redis: DependencyHealth;
  /** Null when Redis could not answer. */
  queue: { waiting: number; active: number; delayed: number } | null;
  providers: ProviderStatus[];
}

export type QueueDepth = () => Promise<{ waiting: number; active: number; delayed: number }>;

const CHECK_TIMEOUT_MS = 2000;

function bounded<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

async function timed(what: string, fn: () => Promise<unknown>): Promise<DependencyHealth> {
  const t0 = performance.now();
  try {
    await bounded(fn(), what);
    return { ok: true, latencyMs: Math.round((performance.now() - t0) * 10) / 10, message: null };
  } catch (e) {
    return { ok: false, latencyMs: null, message: (e as Error).message.slice(0, 300) };
  }
}

export function summarize(keys: KeyStatus[]): KeyPoolSummary {
  const usable = keys.filter((k) => k.state !== "DISABLED");
  return {
    total: keys.length,
    active: keys.filter((k) => k.state === "ACTIVE").length,
    coolingDown: keys.filter((k) => k.state === "COOLING_DOWN").length,
    disabled: keys.length - usable.length,
    inFlight: keys.reduce((n, k) => n + k.inFlight, 0),
    health: usable.length ? Math.round((usable.reduce((n, k) => n + k.health, 0) / usable.length) * 100) / 100 : null,
    keys,
  };
}

export class HealthService {
  constructor(
    private readonly ds: DataSource,
    private readonly redis: Redis,
    private readonly queueDepth: QueueDepth,
    private readonly providers: ProviderService,
  ) {}

  async report(viewer: Viewer): Promise<HealthReport> {
    const admin = isAdmin(viewer);
    const [postgres, redis] = await Promise.all([timed("Postgres", () => pingPostgres(this.ds)), timed("Redis", () => this.redis.ping())]);
    const queue = redis.ok ? await bounded(this.queueDepth(), "the queue").catch(() => null) : null;
    const providers = await Promise.all(this.providers.registry.listProviders().map((p) => this.provider(p.id, p.displayName, p.simulated, redis.ok && postgres.ok)));
    const degraded = providers.some((p) => p.status === "DOWN" || (p.keyPool && p.keyPool.total > 0 && p.keyPool.active === 0));
    const hide = (d: DependencyHealth): DependencyHealth => (admin ? d : { ...d, message: null });
    return {
      status: !postgres.ok || !redis.ok ? "DOWN" : degraded ? "DEGRADED" : "OK",
      checkedAt: new Date(),
      postgres: hide(postgres),
      redis: hide(redis),
      queue,
      providers: admin ? providers : providers.map((p) => ({ ...p, message: null, keyPool: null })),
    };
  }

  private async provider(id: string, name: string, simulated: boolean, withKeys: boolean): Promise<ProviderStatus> {
    if (simulated) return { id, name, status: "UP", checkedAt: null, latencyMs: null, message: "simulated: always up", keyPool: null };
    const h = await bounded(this.providers.health(id), "Redis").catch((e: Error) => ({ status: "UNKNOWN" as const, checkedAt: null, latencyMs: null, message: e.message }));
    let keyPool: KeyPoolSummary | null = null;
    if (withKeys && this.providers.setup.defs[id]?.requiresKey) keyPool = summarize(await bounded(this.providers.keys.describe(id), "the key pool").catch(() => []));
    return { id, name, status: h.status, checkedAt: h.checkedAt, latencyMs: h.latencyMs, message: h.message, keyPool };
  }
}
