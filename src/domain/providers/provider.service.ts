/**
 * The providers as operators see them: which are configured, their key pools, their health
 * (a periodic probe of each adapter's health check, one worker at a time, stored in Redis),
 * and the admin actions on keys and on Ollama's local models. Also the glue the runner and
 * the request side need: provider availability for routing, embedding batches run under a
 * pooled key, and cancelling upstream tasks.
 */
import type { Redis } from "ioredis";
import type { GenerationEntity } from "../../db/entities/generation.entity";
import type { Logger } from "../../observability/logger";
import { type GenerationProvider, type GenerationResult, ProviderError } from "../../providers/contract";
import type { ProviderRegistry } from "../../providers/registry";
import type { ProviderSetup } from "./provider-setup";
import type { UpstreamCanceller } from "../generations/generation.service";
import type { BatchExecutor } from "../generations/run/embedding-batcher";
import type { KeyPool } from "./key-pool";

export interface ProviderHealth {
  status: "UP" | "DOWN" | "UNKNOWN";
  checkedAt: Date | null;
  latencyMs: number | null;
  message: string | null;
}

export class ProviderService implements UpstreamCanceller {
  private timer?: NodeJS.Timeout;

  constructor(
    readonly registry: ProviderRegistry,
    readonly setup: ProviderSetup,
    readonly keys: KeyPool,
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly log: Logger,
  ) {}

  /** Why a provider cannot serve now, or undefined when it can. */
  unavailableReason(id: string): string | undefined {
    const p = this.registry.provider(id);
    if (!p) return `provider ${id} is not offered by this deployment`;
    if (p.simulated) return undefined;
    const def = this.setup.defs[id];
    if (!def) return undefined;
    const env = id.toUpperCase().replace(/-/g, "_");
    if (def.requiresKey) return this.keys.hasKeys(id) ? undefined : `provider ${id} has no API key: set ${env}_API_KEY (or add one with addProviderKey)`;
    return def.configured ? undefined : `provider ${id} is not configured: set ${env}_BASE_URL to its address`;
  }

  configured(id: string): boolean {
    return !this.unavailableReason(id);
  }

  /** Runs an embedding batch under one pooled key and records the key's outcome. */
  readonly runBatch: BatchExecutor = async (provider, reqs, timeoutMs) => {
    const ran = await this.keys.withKey(provider, { ttlMs: timeoutMs + 60_000 }, async (lease) => {
      const signal = AbortSignal.timeout(timeoutMs);
      try {
        const results: GenerationResult[] = await provider.embedBatch!(reqs, {
          apiKey: lease?.key, keyLabel: lease?.label, signal, timeoutMs, attempt: 1, onDelta: () => undefined, onProgress: () => undefined,
        });
        await lease?.end({ outcome: "ok" });
        return { results, keyLabel: lease?.label };
      } catch (e) {
        const err = e instanceof ProviderError ? e : new ProviderError({ provider: provider.id, kind: signal.aborted ? "timeout" : "unavailable", message: (e as Error).message });
        await lease?.end({
          outcome: err.kind === "rate_limited" ? "rate_limited" : err.kind === "auth" ? "auth" : "error",
          retryAfterMs: err.retryAfterSeconds !== undefined ? err.retryAfterSeconds * 1000 : undefined,
        });
        throw err;
      }
    });
    if (ran.kind !== "ran")
      throw new ProviderError({ provider: provider.id, kind: ran.kind === "wait" ? "rate_limited" : "auth", retryable: true, message: ran.reason, retryAfterSeconds: ran.kind === "wait" ? Math.ceil(ran.delayMs / 1000) : undefined });
    return ran.value;
  };

  /** Stops a generation's upstream task (best effort: the provider may have finished already). */
  async cancel(gen: GenerationEntity): Promise<void> {
    const task = gen.upstreamTask;
    const provider = task && this.registry.provider(task.provider);
    if (!task || !provider?.cancelTask) return;
    await provider.cancelTask(
      { pending: true, taskId: task.taskId, state: task.state, checkAfterMs: 0 },
      { apiKey: this.keys.keyFor(provider.id, task.keyLabel), signal: AbortSignal.timeout(10_000) },
    );
    this.log.info({ generationId: gen.id, provider: provider.id, taskId: task.taskId }, "upstream task cancelled");
  }

  async health(id: string): Promise<ProviderHealth> {
    const h = await this.redis.hgetall(`${this.prefix}:health:${id}`);
    if (!h.status) return { status: "UNKNOWN", checkedAt: null, latencyMs: null, message: null };
    return { status: h.status as ProviderHealth["status"], checkedAt: new Date(Number(h.checkedAt)), latencyMs: Number(h.latencyMs), message: h.message || null };
  }

  /** Probes one provider now and stores the result. */
  async probe(p: GenerationProvider): Promise<ProviderHealth> {
    const t0 = performance.now();
    let status: ProviderHealth["status"] = "UP";
    let message = "";
    try {
      if (!p.healthCheck) return { status: "UNKNOWN", checkedAt: null, latencyMs: null, message: "no health check" };
      await p.healthCheck({ apiKey: this.keys.keyFor(p.id, undefined), signal: AbortSignal.timeout(10_000) });
    } catch (e) {
      status = "DOWN";
      message = (e as Error).message.slice(0, 300);
    }
    const latencyMs = Math.round(performance.now() - t0);
    const checkedAt = Date.now();
    await this.redis.hset(`${this.prefix}:health:${p.id}`, { status, checkedAt, latencyMs, message });
    return { status, checkedAt: new Date(checkedAt), latencyMs, message: message || null };
  }

  /** Every `intervalMs`, one worker (whichever takes the Redis lock) probes each configured provider. */
  startProbes(intervalMs: number): void {
    if (intervalMs <= 0) return;
    const tick = async () => {
      for (const p of this.registry.listProviders()) {
        if (p.simulated || !this.configured(p.id) || !p.healthCheck) continue;
        const mine = await this.redis.set(`${this.prefix}:health-lock:${p.id}`, "1", "PX", intervalMs, "NX");
        if (mine) await this.probe(p).catch((err) => this.log.warn({ err, provider: p.id }, "health probe failed"));
      }
    };
    this.timer = setInterval(() => void tick().catch(() => undefined), intervalMs);
    this.timer.unref();
    void tick().catch(() => undefined);
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

