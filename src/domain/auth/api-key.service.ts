/**
 * Users and their API keys. A key is "sb_<prefix>_<secret>"; only its SHA-256 is stored.
 * Resolved keys are cached briefly per node (never past their expiry); revocation, a rotation's
 * expiry and a user's change are broadcast so every node purges its cache and closes that key's
 * sockets (at once, or when the key expires). Prefixes no key has are remembered briefly
 * (a guess costs no query), and requests without a valid key are throttled per client address.
 */
import { timingSafeEqual } from "node:crypto";
import { LRUCache } from "lru-cache";
import type { DataSource } from "typeorm";
import type { Tier } from "../../config/config";
import { BadUserInputError, ConflictError, NotFoundError } from "../../common/errors";
import { newId, randomToken, sha256Hex } from "../../common/ids";
import { ApiKeyEntity } from "../../db/entities/api-key.entity";
import { UserEntity, type Role } from "../../db/entities/user.entity";
import type { EventBus } from "../../realtime/event-bus";
import { Topic } from "../../realtime/topics";
import { ApiKeyStore } from "./api-key.store";
import type { AuthThrottle } from "./auth-throttle";
import { UserStore, type UserPageQuery } from "./user.store";

/** A key's own limits, on top of its user's (null = no limit of that kind). */
export interface KeyLimits {
  expiresAt: Date | null;
  /** Per-key budget per quota period, micro-USD. */
  budgetMicros: number | null;
  allowedModels: string[] | null;
  rateLimitPerMinute: number | null;
}

export interface AuthenticatedKey {
  keyId: string;
  user: UserEntity;
  limits: KeyLimits;
}

/** Why a presented key was refused. */
export type KeyRefusal = "invalid" | "revoked" | "expired" | "disabled";

/** The longest overlap a rotation may give the old key. */
export const MAX_OVERLAP_SECONDS = 30 * 24 * 3600;

const KEY_RE = /^sb_[A-Za-z0-9]{8}_[A-Za-z0-9]{32,64}$/;
const EMAIL_RE = /^[^\s@]+@[^\s@]+$/;
const sameHash = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

export class ApiKeyService {
  private readonly cache = new Map<string, { value: AuthenticatedKey; expiresAt: number }>();
  /** Bumped on every purge: a lookup that raced a revocation must not re-fill the cache. */
  private purgeEpoch = 0;
  /** Prefixes (the public part of a key) that no key had when last looked up. */
  private readonly unknownPrefixes: LRUCache<string, true>;
  private readonly keys: ApiKeyStore;
  private readonly users: UserStore;

  constructor(
    ds: DataSource,
    private readonly bus: EventBus,
    private readonly cacheTtlMs: number,
    private readonly guard: { throttle?: AuthThrottle; unknownPrefixTtlMs?: number } = {},
  ) {
    this.keys = new ApiKeyStore(ds);
    this.users = new UserStore(ds, this.keys);
    this.unknownPrefixes = new LRUCache({ max: 100_000, ttl: Math.max(1, guard.unknownPrefixTtlMs ?? 10_000) });
  }

  async createUser(email: string, role: Role = "USER", tier: Tier = "free"): Promise<{ user: UserEntity; key: string }> {
    if (!EMAIL_RE.test(email)) throw new BadUserInputError(`"${email}" is not an email address`, { field: "email" });
    if (!["free", "pro", "enterprise"].includes(tier)) throw new BadUserInputError(`tier must be free, pro or enterprise`, { field: "tier" });
    const id = newId();
    const { key, entity } = this.buildKey(id, "default");
    const user = await this.users.createWithKey({ id, email, role, tier }, entity);
    if (!user) throw new ConflictError(`a user with email ${email} already exists`, { field: "email" });
    return { user, key };
  }

  async userByEmail(email: string): Promise<UserEntity> {
    const u = await this.users.byEmail(email);
    if (!u) throw new NotFoundError("User", email);
    return u;
  }

  userById(id: string): Promise<UserEntity | null> {
    return this.users.byId(id);
  }

  listUsers(q: UserPageQuery, size: number): Promise<UserEntity[]> {
    return this.users.page(q, size);
  }

  /**
   * Changes a user's tier and/or disables (enables) it. Every node drops the user's keys from its
   * cache at once (the tier is cached with them); disabling also closes their sockets everywhere.
   */
  async updateUser(id: string, change: { tier?: Tier; disabled?: boolean }): Promise<UserEntity> {
    const user = await this.users.update(id, change);
    if (!user) throw new NotFoundError("User", id);
    for (const k of await this.keys.liveOfUser(id)) {
      this.purge(k.key_hash);
      await this.bus.publish(Topic.API_KEY_CHANGED, undefined, {
        keyId: k.id, keyHash: k.key_hash, expiresAt: k.expires_at?.toISOString() ?? null, closeNow: user.disabledAt ? "disabled" : null,
      });
    }
    return user;
  }

  /** How many users exist (serve --setup creates the first admin when there is none). */
  countUsers(): Promise<number> {
    return this.users.count();
  }

  async createKey(userId: string, label: string | null = null, limits: Partial<KeyLimits> = {}): Promise<{ key: string; entity: ApiKeyEntity }> {
    const built = this.buildKey(userId, label, limits);
    await this.keys.insert(built.entity);
    this.unknownPrefixes.delete(built.entity.prefix);
    return built;
  }

  async listKeys(userId: string): Promise<ApiKeyEntity[]> {
    return this.keys.byUser(userId);
  }

  keyById(id: string): Promise<ApiKeyEntity | null> {
    return this.keys.byId(id);
  }

  async revoke(keyId: string): Promise<ApiKeyEntity> {
    const key = await this.keys.revoke(keyId);
    if (!key) throw new NotFoundError("API key", keyId);
    this.purge(key.keyHash);
    await this.bus.publish(Topic.API_KEY_REVOKED, undefined, { keyId: key.id, keyHash: key.keyHash });
    return key;
  }

  /**
   * Issues a new key with the same label and limits for the same user. The old one is revoked at
   * once (overlapSeconds 0), or keeps working until now + overlapSeconds: its expiry is set, every
   * node drops it from its cache and closes its sockets at that instant.
   */
  async rotate(keyId: string, overlapSeconds = 0): Promise<{ key: string; entity: ApiKeyEntity; old: ApiKeyEntity }> {
    if (!Number.isInteger(overlapSeconds) || overlapSeconds < 0 || overlapSeconds > MAX_OVERLAP_SECONDS)
      throw new BadUserInputError(`overlapSeconds must be a whole number from 0 to ${MAX_OVERLAP_SECONDS} (30 days)`, { field: "overlapSeconds" });
    const current = await this.keys.byId(keyId);
    if (!current) throw new NotFoundError("API key", keyId);
    const { userId, label, budgetMicros, allowedModels, rateLimitPerMinute, expiresAt } = current;
    const fresh = this.buildKey(userId, label, { budgetMicros, allowedModels, rateLimitPerMinute, expiresAt });
    const old = await this.keys.rotate(keyId, fresh.entity, overlapSeconds ? new Date(Date.now() + overlapSeconds * 1000) : null);
    if (!old) {
      const now = (await this.keys.byId(keyId))!;
      const state = now.revokedAt ? "revoked" : now.replacedBy ? "rotated" : "expired";
      throw new ConflictError(`API key ${keyId} is already ${state}; rotate its replacement instead`, { state });
    }
    this.unknownPrefixes.delete(fresh.entity.prefix);
    this.purge(old.keyHash);
    if (old.revokedAt) await this.bus.publish(Topic.API_KEY_REVOKED, undefined, { keyId: old.id, keyHash: old.keyHash });
    else await this.bus.publish(Topic.API_KEY_CHANGED, undefined, { keyId: old.id, keyHash: old.keyHash, expiresAt: old.expiresAt!.toISOString(), closeNow: null });
    return { ...fresh, old };
  }

  /**
   * Resolves a presented key to its user, or null when unknown, malformed or revoked.
   * With `from` (the client address), a failure counts against that address's budget and an
   * address past it gets AuthRateLimitedError before any lookup (keys cached here still pass).
   */
  async authenticate(raw: string, from?: string): Promise<AuthenticatedKey | null> {
    if (!KEY_RE.test(raw)) return this.refused(from);
    const hash = sha256Hex(raw);
    const hit = this.cache.get(hash);
    if (hit && hit.expiresAt > Date.now()) return hit.value;
    if (from !== undefined) await this.guard.throttle?.check(from);
    const prefix = raw.slice(3, 11);
    if (this.unknownPrefixes.has(prefix)) return this.refused(from);
    const epoch = this.purgeEpoch;
    // By prefix (unique): one indexed query tells "no such key" (cached) from "wrong secret".
    const r = await this.keys.withUserByPrefix(prefix);
    if (!r) this.unknownPrefixes.set(prefix, true);
    const now = Date.now();
    const expired = r?.expires_at != null && r.expires_at.getTime() <= now;
    if (!r || r.revoked_at || expired || r.disabled_at || !sameHash(String(r.key_hash), hash)) {
      this.cache.delete(hash);
      return this.refused(from);
    }
    const value: AuthenticatedKey = {
      keyId: r.key_id,
      user: Object.assign(new UserEntity(), {
        id: r.id, email: r.email, role: r.role, tier: r.tier, createdAt: r.created_at, disabledAt: r.disabled_at,
      }),
      limits: {
        expiresAt: r.expires_at,
        budgetMicros: r.budget_micros === null ? null : Number(r.budget_micros),
        allowedModels: r.allowed_models,
        rateLimitPerMinute: r.rate_limit_per_minute,
      },
    };
    // Never cached past the key's expiry: a cached key must stop at its expires_at on every node.
    const until = Math.min(now + this.cacheTtlMs, r.expires_at?.getTime() ?? Infinity);
    if (epoch === this.purgeEpoch) this.cache.set(hash, { value, expiresAt: until });
    return value;
  }

  /**
   * Why `authenticate` refused a key, for clients that need to tell (WebSocket close codes, the
   * UNAUTHENTICATED reason): for a real key, "revoked", "expired" (past its expiresAt) or "disabled"
   * (its user was disabled); "invalid" for anything else.
   */
  async refusal(raw: string): Promise<KeyRefusal> {
    if (!KEY_RE.test(raw) || this.unknownPrefixes.has(raw.slice(3, 11))) return "invalid";
    const r = await this.keys.withUserByPrefix(raw.slice(3, 11));
    if (!r || !sameHash(String(r.key_hash), sha256Hex(raw))) return "invalid";
    if (r.revoked_at) return "revoked";
    if (r.expires_at && r.expires_at.getTime() <= Date.now()) return "expired";
    return r.disabled_at ? "disabled" : "invalid";
  }

  /** Counts a request without any key against the address's budget (AuthRateLimitedError past it). */
  async anonymous(from: string): Promise<void> {
    await this.guard.throttle?.fail(from);
  }

  private async refused(from: string | undefined): Promise<null> {
    if (from !== undefined) await this.guard.throttle?.fail(from);
    return null;
  }

  /** Drops a key from this node's cache (called on every node by the revocation broadcast). */
  purge(keyHash: string): void {
    this.purgeEpoch++;
    this.cache.delete(keyHash);
  }

  private buildKey(userId: string, label: string | null, limits: Partial<KeyLimits> = {}): { key: string; entity: ApiKeyEntity } {
    const prefix = randomToken(6).slice(0, 8).padEnd(8, "x");
    const key = `sb_${prefix}_${randomToken(24).slice(0, 32).padEnd(32, "x")}`;
    const entity = Object.assign(new ApiKeyEntity(), {
      id: newId(), userId, label, prefix, keyHash: sha256Hex(key), revokedAt: null, lastUsedAt: null,
      expiresAt: limits.expiresAt ?? null, budgetMicros: limits.budgetMicros ?? null,
      allowedModels: limits.allowedModels ?? null, rateLimitPerMinute: limits.rateLimitPerMinute ?? null, replacedBy: null,
    });
    return { key, entity };
  }
}
