/**
 * Users and their API keys. A key is "sb_<prefix>_<secret>"; only its SHA-256 is stored.
 * Resolved keys are cached briefly per node; revocation is broadcast so every node purges
 * its cache and closes that key's sockets at once. Prefixes no key has are remembered briefly
 * (a guess costs no query), and requests without a valid key are throttled per client address.
 */
import { timingSafeEqual } from "node:crypto";
import { LRUCache } from "lru-cache";
import type { DataSource } from "typeorm";
import type { Tier } from "../../config/config";
import { UserFacingError } from "../../common/errors";
import { newId, randomToken, sha256Hex } from "../../common/ids";
import { ApiKeyEntity } from "../../db/entities/api-key.entity";
import { UserEntity, type Role } from "../../db/entities/user.entity";
import type { EventBus } from "../../realtime/event-bus";
import { Topic } from "../../realtime/topics";
import { ApiKeyStore } from "./api-key.store";
import type { AuthThrottle } from "./auth-throttle";
import { UserStore } from "./user.store";

export interface AuthenticatedKey {
  keyId: string;
  user: UserEntity;
}

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
    if (!EMAIL_RE.test(email)) throw new UserFacingError(`"${email}" is not an email address`);
    if (!["free", "pro", "enterprise"].includes(tier)) throw new UserFacingError(`tier must be free, pro or enterprise`);
    const id = newId();
    const { key, entity } = this.buildKey(id, "default");
    const user = await this.users.createWithKey({ id, email, role, tier }, entity);
    if (!user) throw new UserFacingError(`a user with email ${email} already exists`);
    return { user, key };
  }

  async userByEmail(email: string): Promise<UserEntity> {
    const u = await this.users.byEmail(email);
    if (!u) throw new UserFacingError(`no user with email ${email}`);
    return u;
  }

  /** How many users exist (serve --setup creates the first admin when there is none). */
  countUsers(): Promise<number> {
    return this.users.count();
  }

  async createKey(userId: string, label: string | null = null): Promise<{ key: string; entity: ApiKeyEntity }> {
    const built = this.buildKey(userId, label);
    await this.keys.insert(built.entity);
    this.unknownPrefixes.delete(built.entity.prefix);
    return built;
  }

  async listKeys(userId: string): Promise<ApiKeyEntity[]> {
    return this.keys.byUser(userId);
  }

  async revoke(keyId: string): Promise<ApiKeyEntity> {
    const key = await this.keys.revoke(keyId);
    if (!key) throw new UserFacingError(`no API key with id ${keyId}`);
    this.purge(key.keyHash);
    await this.bus.publish(Topic.API_KEY_REVOKED, undefined, { keyId: key.id, keyHash: key.keyHash });
    return key;
  }

  /** Issues a new key with the same label for the same user and revokes the old one. */
  async rotate(keyId: string): Promise<{ key: string; entity: ApiKeyEntity }> {
    const old = await this.keys.byId(keyId);
    if (!old) throw new UserFacingError(`no API key with id ${keyId}`);
    if (old.revokedAt) throw new UserFacingError(`API key ${keyId} is already revoked`);
    const fresh = await this.createKey(old.userId, old.label);
    await this.revoke(keyId);
    return fresh;
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
    if (!r || r.revoked_at || !sameHash(String(r.key_hash), hash)) {
      this.cache.delete(hash);
      return this.refused(from);
    }
    const value: AuthenticatedKey = {
      keyId: r.key_id,
      user: Object.assign(new UserEntity(), { id: r.id, email: r.email, role: r.role, tier: r.tier, createdAt: r.created_at }),
    };
    if (epoch === this.purgeEpoch) this.cache.set(hash, { value, expiresAt: Date.now() + this.cacheTtlMs });
    return value;
  }

  /**
   * Why `authenticate` refused a key, for clients that need to tell (WebSocket close codes):
   * "revoked" when it is a real key that was revoked, "invalid" for anything else. Keys do not expire.
   */
  async refusal(raw: string): Promise<"invalid" | "revoked"> {
    if (!KEY_RE.test(raw) || this.unknownPrefixes.has(raw.slice(3, 11))) return "invalid";
    const r = await this.keys.byPrefix(raw.slice(3, 11));
    return r?.revoked_at && sameHash(String(r.key_hash), sha256Hex(raw)) ? "revoked" : "invalid";
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

  private buildKey(userId: string, label: string | null): { key: string; entity: ApiKeyEntity } {
    const prefix = randomToken(6).slice(0, 8).padEnd(8, "x");
    const key = `sb_${prefix}_${randomToken(24).slice(0, 32).padEnd(32, "x")}`;
    const entity = Object.assign(new ApiKeyEntity(), {
      id: newId(), userId, label, prefix, keyHash: sha256Hex(key), revokedAt: null, lastUsedAt: null,
    });
    return { key, entity };
  }
}
