/**
 * API-key pools, shared by every worker through Redis. Each provider has keys from the
 * environment (`<PROVIDER>_API_KEY`, `_2` … `_N`) and keys added through the API (stored
 * AES-256-GCM encrypted). Per key, Redis holds: in-flight leases (a sorted set of lease ids
 * scored by expiry, so a worker that dies leaks nothing), a cooldown end after a 429,
 * counters, the last 20 outcomes (the health score) and a disabled flag. Picking a key and
 * taking its lease is one Lua script, so two workers never both take a key's last slot.
 * On a Redis Cluster every key of one provider's pool shares a hash tag (the provider id):
 * the scripts walk all of a provider's keys in one slot.
 */
import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import { BadUserInputError, ConflictError, NotFoundError } from "../../common/errors";
import { hashTag } from "../../common/hash-tag";
import type { Logger } from "../../observability/logger";
import type { EventBus } from "../../realtime/event-bus";
import { Topic } from "../../realtime/topics";
import type { AlertsService } from "./alerts.service";
import { KeyCrypto, last4 } from "./key-crypto";
import type { KeyLimits } from "./key-limits";
import { ACQUIRE, RELEASE } from "./key-pool.scripts";
import { onceEnded, type Acquired, type KeyLease, type KeyOutcome, type NoKey, type WithKeyOptions } from "./key-lease";
import type { ProviderKeyStore } from "./provider-key.store";

export interface PoolKey {
  label: string;
  key: string;
  source: "ENV" | "STORED";
}

export interface KeyStatus {
  label: string;
  last4: string;
  source: "ENV" | "STORED";
  state: "ACTIVE" | "COOLING_DOWN" | "DISABLED";
  health: number;
  inFlight: number;
  cooldownUntil: Date | null;
  disabledReason: string | null;
  requests: number;
  successes: number;
  errors: number;
  rateLimited: number;
}

export interface KeyPoolConfig {
  masterKey?: string;
  keyStrategy: string;
  maxConcurrentPerKey: number;
  authFailuresToDisable: number;
  defaultCooldownMs: number;
  vendors: Record<string, { keys: { label: string; key: string }[]; keyStrategy?: string }>;
}

export class KeyPool {
  private readonly crypto?: KeyCrypto;
  private keys = new Map<string, PoolKey[]>();
  private unsubscribe?: () => void;

  constructor(
    private readonly store: ProviderKeyStore,
    private readonly redis: Redis,
    private readonly bus: EventBus,
    private readonly prefix: string,
    private readonly cfg: KeyPoolConfig,
    private readonly alerts: AlertsService,
    private readonly log: Logger,
    private readonly limits: KeyLimits,
  ) {
    if (cfg.masterKey) this.crypto = new KeyCrypto(cfg.masterKey);
    // KEYS[1] only routes the call to the pool's slot (a Cluster sends a keyless script anywhere); the scripts build their keys from ARGV[1].
    redis.defineCommand("sbKeyAcquire", { numberOfKeys: 1, lua: ACQUIRE });
    redis.defineCommand("sbKeyRelease", { numberOfKeys: 1, lua: RELEASE });
  }

  async start(): Promise<void> {
    await this.reload();
    this.unsubscribe = await this.bus.subscribe(Topic.PROVIDER_KEYS_CHANGED, undefined, () => void this.reload().catch((err) => this.log.error({ err }, "reloading provider keys failed")));
  }

  stop(): void {
    this.unsubscribe?.();
  }

  /** Env keys first (in _N order), then stored keys by creation. */
  async reload(): Promise<void> {
    const next = new Map<string, PoolKey[]>();
    for (const [provider, v] of Object.entries(this.cfg.vendors)) next.set(provider, v.keys.map((k) => ({ ...k, source: "ENV" as const })));
    const rows = await this.store.enabled();
    for (const r of rows) {
      if (!this.crypto) {
        this.log.warn({ provider: r.provider, label: r.label }, "a stored provider key is ignored: SWITCHBOARD_MASTER_KEY is not set");
        continue;
      }
      try {
        const list = next.get(r.provider) ?? [];
        list.push({ label: r.label, key: this.crypto.decrypt(r.ciphertext), source: "STORED" });
        next.set(r.provider, list);
      } catch {
        this.log.error({ provider: r.provider, label: r.label }, "a stored provider key cannot be decrypted with SWITCHBOARD_MASTER_KEY; it is ignored");
      }
    }
    this.keys = next;
  }

  keyCount(provider: string): number {
    return this.keys.get(provider)?.length ?? 0;
  }

  /** The key behind a label (the API process cancelling an upstream task). */
  keyFor(provider: string, label: string | undefined): string | undefined {
    const list = this.keys.get(provider) ?? [];
    return (label ? list.find((k) => k.label === label) : list[0])?.key;
  }

  /** True when the provider has at least one key (env or stored). */
  hasKeys(provider: string): boolean {
    return (this.keys.get(provider)?.length ?? 0) > 0;
  }

  private base(provider: string): string {
    return `${this.prefix}:kp:${hashTag(this.redis, provider)}:`;
  }

  private strategy(provider: string): string {
    return this.cfg.vendors[provider]?.keyStrategy ?? this.cfg.keyStrategy;
  }

  /** Picks a key and takes a lease on it (released by {@link release}; it expires after leaseTtlMs anyway). */
  private async acquire(provider: string, leaseTtlMs: number, label?: string, exclude?: ReadonlySet<string>): Promise<Acquired> {
    const all = this.keys.get(provider) ?? [];
    if (!all.length) return { kind: "unavailable", reason: `provider ${provider} has no API key: set ${provider.toUpperCase().replace(/-/g, "_")}_API_KEY or add one with addProviderKey` };
    let strategy = this.strategy(provider);
    const wanted = label ?? (strategy.startsWith("label:") ? strategy.slice(6) : undefined);
    const candidates = wanted ? all.filter((k) => k.label === wanted) : exclude?.size ? all.filter((k) => !exclude.has(k.label)) : all;
    if (!candidates.length) return { kind: "unavailable", reason: `provider ${provider} has no key labelled "${wanted}"` };
    if (wanted) strategy = "round-robin";
    const leaseId = randomUUID();
    const [kind, value] = (await (this.redis as unknown as { sbKeyAcquire(...a: (string | number)[]): Promise<[string, string]> }).sbKeyAcquire(
      `${this.base(provider)}rr`, this.base(provider), Date.now(), this.cfg.maxConcurrentPerKey, strategy, leaseId, leaseTtlMs, ...candidates.map((k) => k.label),
    ));
    if (kind === "key") {
      const k = candidates.find((x) => x.label === value)!;
      return { kind: "key", label: k.label, key: k.key, leaseId };
    }
    if (kind === "busy") return { kind: "wait", delayMs: Number(value), reason: `every ${provider} key is at its concurrency cap (${this.cfg.maxConcurrentPerKey})`, cause: "busy" };
    if (kind === "wait") return { kind: "wait", delayMs: Math.max(1, Number(value)), reason: `every ${provider} key is cooling down after rate limits`, cause: "cooldown" };
    return { kind: "unavailable", reason: `every ${provider} key is disabled` };
  }

  /**
   * The one way to call a provider under a pooled key: picks a key and leases it (honouring the
   * key's RPM/TPM minute: a key whose minute is spent rests and another is tried), runs `fn`,
   * and ends the lease with the verdict `fn` gave (`lease.end`, which also refunds the unused
   * tokens); a lease `fn` did not end is given back uncounted. A provider without keys runs `fn`
   * with no lease. Resolves to `fn`'s value, or to why no key could be leased (nothing was called).
   */
  async withKey<T>(provider: { id: string; requiresKey?: boolean }, opts: WithKeyOptions, fn: (lease?: KeyLease) => Promise<T>): Promise<{ kind: "ran"; value: T } | NoKey> {
    if (!provider.requiresKey) return { kind: "ran", value: await fn(undefined) };
    const limited = !!opts.tokens && this.limits.limited(provider.id);
    const tokens = limited ? opts.tokens!() : 0;
    let limitReason: string | undefined;
    for (let tries = 0; ; tries++) {
      let got = await this.acquire(provider.id, opts.ttlMs, opts.label, opts.exclude);
      // Every key failed in this run already: the least bad of them rather than none.
      if (got.kind === "unavailable" && opts.exclude?.size && opts.fallBackToExcluded) got = await this.acquire(provider.id, opts.ttlMs);
      if (got.kind === "wait") return { kind: "wait", delayMs: got.delayMs, reason: limitReason ?? got.reason, cause: limitReason ? "limit" : got.cause };
      if (got.kind === "unavailable") return { kind: "unavailable", reason: limitReason ?? got.reason };
      let reserved = 0;
      if (limited) {
        // Per-key RPM/TPM: a key whose minute is spent rests; another key, or the caller waits (queue instead of 429).
        const adm = await this.limits.admit(provider.id, got.label, tokens);
        if (!adm.ok) {
          await this.release(provider.id, got.label, got.leaseId, "cancelled");
          if ("never" in adm) return { kind: "too_large", reason: adm.reason };
          await this.pause(provider.id, got.label, got.leaseId, adm.waitMs);
          limitReason = adm.reason;
          if (tries >= this.keyCount(provider.id)) return { kind: "wait", delayMs: adm.waitMs, reason: adm.reason, cause: "limit" };
          continue;
        }
        reserved = adm.tokens;
      }
      const { label, leaseId } = got;
      const lease = onceEnded(label, got.key, async (v) => {
        await this.release(provider.id, label, leaseId, v.outcome, v.retryAfterMs);
        if (reserved > 0 && v.usedTokens !== undefined) await this.limits.refund(provider.id, label, Math.max(0, reserved - v.usedTokens));
      });
      try {
        return { kind: "ran", value: await fn(lease) };
      } finally {
        await lease.end({ outcome: "cancelled", usedTokens: 0 });
      }
    }
  }

  /** Ends a lease and records how the call went; repeated auth failures disable the key and raise an alert. */
  private async release(provider: string, label: string, leaseId: string, outcome: KeyOutcome, retryAfterMs?: number): Promise<void> {
    const disabled = await (this.redis as unknown as { sbKeyRelease(...a: (string | number)[]): Promise<number> }).sbKeyRelease(
      `${this.base(provider)}state:${label}`, this.base(provider), label, leaseId, outcome, Date.now(), retryAfterMs ?? this.cfg.defaultCooldownMs, this.cfg.authFailuresToDisable,
    );
    if (disabled === 1) {
      const k = this.keys.get(provider)?.find((x) => x.label === label);
      this.log.warn({ provider, label }, "provider key disabled after repeated authentication failures");
      await this.alerts.raise({
        kind: "provider_key_disabled", severity: "critical", provider,
        message: `${provider} key "${label}" (…${k ? last4(k.key) : "????"}) was disabled after ${this.cfg.authFailuresToDisable} authentication failures`,
        details: { label, last4: k ? last4(k.key) : null },
      });
    }
  }

  /** Ends a lease without counting it and rests the key for `ms` (its RPM/TPM minute is spent). */
  private async pause(provider: string, label: string, leaseId: string, ms: number): Promise<void> {
    const b = this.base(provider);
    const until = Date.now() + ms;
    await this.redis
      .multi()
      .zrem(`${b}leases:${label}`, leaseId)
      .eval(`local c = tonumber(redis.call('HGET', KEYS[1], 'cooldown_until') or '0') if tonumber(ARGV[1]) > c then redis.call('HSET', KEYS[1], 'cooldown_until', ARGV[1]) end return 1`, 1, `${b}state:${label}`, until)
      .exec();
  }

  async describe(provider: string): Promise<KeyStatus[]> {
    const list = [...(this.keys.get(provider) ?? [])];
    // Stored keys disabled in Postgres are not in the pool but are still shown.
    const disabledRows = await this.store.disabled(provider);
    const now = Date.now();
    const base = this.base(provider);
    const pipe = this.redis.pipeline();
    for (const k of list) {
      pipe.hgetall(`${base}state:${k.label}`);
      pipe.zcount(`${base}leases:${k.label}`, now, "+inf");
      pipe.lrange(`${base}recent:${k.label}`, 0, 19);
    }
    const res = (await pipe.exec()) ?? [];
    const out: KeyStatus[] = list.map((k, i) => {
      const st = (res[i * 3]?.[1] ?? {}) as Record<string, string>;
      const inFlight = Number(res[i * 3 + 1]?.[1] ?? 0);
      const recent = (res[i * 3 + 2]?.[1] ?? []) as string[];
      const cd = Number(st.cooldown_until ?? 0);
      return {
        label: k.label, last4: last4(k.key), source: k.source,
        state: st.disabled ? "DISABLED" : cd > now ? "COOLING_DOWN" : "ACTIVE",
        health: recent.length ? Math.round((recent.filter((m) => m === "o").length / recent.length) * 100) / 100 : 1,
        inFlight, cooldownUntil: cd > now ? new Date(cd) : null, disabledReason: st.disabled ?? null,
        requests: Number(st.requests ?? 0), successes: Number(st.successes ?? 0), errors: Number(st.errors ?? 0), rateLimited: Number(st.rate_limited ?? 0),
      };
    });
    for (const r of disabledRows)
      out.push({ label: r.label, last4: r.last4, source: "STORED", state: "DISABLED", health: 0, inFlight: 0, cooldownUntil: null, disabledReason: r.disabled_reason, requests: 0, successes: 0, errors: 0, rateLimited: 0 });
    return out;
  }

  async add(provider: string, label: string, key: string): Promise<void> {
    if (!this.crypto) throw new BadUserInputError("Storing provider keys needs SWITCHBOARD_MASTER_KEY (32+ characters) set on every node", { field: "key" });
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(label)) throw new BadUserInputError("label must be 1-64 characters of letters, digits, dot, dash or underscore", { field: "label" });
    if (key.trim().length < 8 || /\s/.test(key.trim())) throw new BadUserInputError("key must be at least 8 characters without spaces", { field: "key" });
    if (this.keys.get(provider)?.some((k) => k.label === label)) throw new ConflictError(`${provider} already has a key labelled "${label}"`);
    if (!(await this.store.insert(provider, label, this.crypto.encrypt(key.trim()), last4(key.trim())))) throw new ConflictError(`${provider} already has a key labelled "${label}"`);
    await this.redis.del(`${this.base(provider)}state:${label}`, `${this.base(provider)}recent:${label}`);
    await this.changed(provider);
  }

  /** Disables a key everywhere: env keys through Redis, stored keys also in Postgres. */
  async disable(provider: string, label: string, reason = "disabled by an admin"): Promise<void> {
    const k = this.find(provider, label);
    await this.redis.hset(`${this.base(provider)}state:${label}`, "disabled", reason);
    if (k.source === "STORED") await this.store.disable(provider, label, reason);
    await this.changed(provider);
  }

  async enable(provider: string, label: string): Promise<void> {
    if (!(await this.store.enable(provider, label))) this.find(provider, label);
    await this.redis.hdel(`${this.base(provider)}state:${label}`, "disabled", "auth_failures", "cooldown_until");
    await this.changed(provider);
  }

  async remove(provider: string, label: string): Promise<void> {
    if (!(await this.store.remove(provider, label))) {
      if (this.keys.get(provider)?.some((k) => k.label === label && k.source === "ENV"))
        throw new BadUserInputError(`${provider} key "${label}" comes from the environment: remove it there, or disable it`, { field: "label" });
      throw new NotFoundError(`${provider} stored key`, label);
    }
    const b = this.base(provider);
    await this.redis.del(`${b}state:${label}`, `${b}recent:${label}`, `${b}leases:${label}`);
    await this.changed(provider);
  }

  private find(provider: string, label: string): PoolKey {
    const k = this.keys.get(provider)?.find((x) => x.label === label);
    if (!k) throw new NotFoundError(`${provider} key`, label);
    return k;
  }

  private async changed(provider: string): Promise<void> {
    await this.reload();
    await this.bus.publish(Topic.PROVIDER_KEYS_CHANGED, undefined, { provider });
  }
}
