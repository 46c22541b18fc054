/**
 * Accounts and virtual keys as a viewer may manage them: admins manage users (create, list, change
 * tier, disable) and anyone's keys; everyone else only their own keys. GraphQL and the CLI (as the
 * system viewer) call these same methods; key mechanics (hashing, caching, broadcasts) are
 * ApiKeyService's.
 */
import { BadUserInputError, ForbiddenError, NotFoundError } from "../../common/errors";
import { isUuid } from "../../common/ids";
import { MAX_USD, usdToMicros } from "../../common/money";
import type { Tier } from "../../config/config";
import type { ApiKeyEntity } from "../../db/entities/api-key.entity";
import type { Role, UserEntity } from "../../db/entities/user.entity";
import { isAdmin, type Viewer } from "../viewer";
import type { ApiKeyService, KeyLimits } from "./api-key.service";

/** A new key as asked for: every limit optional (null or absent = none of that kind). */
export interface NewKey {
  /** Whose key (admins only, for someone else); default the viewer. */
  userId?: string | null;
  label?: string | null;
  expiresAt?: Date | null;
  budgetUsd?: number | null;
  allowedModels?: string[] | null;
  rateLimitPerMinute?: number | null;
}

export interface UserFilter {
  role?: Role;
  tier?: Tier;
  emailContains?: string;
  disabled?: boolean;
}

export interface UserPage {
  edges: { node: UserEntity; cursor: string }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

export const MAX_ALLOWED_MODELS = 100;
export const MAX_RATE_LIMIT_PER_MINUTE = 1_000_000;

/** Opaque keyset cursor over (created_at, id), in milliseconds as the store compares it. */
const encodeCursor = (u: UserEntity) => Buffer.from(JSON.stringify([u.createdAt.toISOString(), u.id])).toString("base64url");
function decodeCursor(cursor: string): { createdAt: Date; id: string } {
  try {
    const [at, id] = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    const createdAt = new Date(at);
    if (typeof at !== "string" || Number.isNaN(createdAt.getTime()) || typeof id !== "string" || !isUuid(id)) throw new Error();
    return { createdAt, id };
  } catch {
    throw new BadUserInputError("`after` is not a cursor this API issued", { field: "after" });
  }
}

export class AccountService {
  constructor(
    private readonly keys: ApiKeyService,
    private readonly maxPageSize: number,
  ) {}

  // --- users (admins)

  createUser(viewer: Viewer, email: string, role: Role = "USER", tier: Tier = "free"): Promise<{ user: UserEntity; key: string }> {
    this.admin(viewer);
    return this.keys.createUser(email.trim(), role, tier);
  }

  async users(viewer: Viewer, first: number | undefined, after: string | undefined, filter: UserFilter = {}): Promise<UserPage> {
    this.admin(viewer);
    const size = first ?? 20;
    if (!Number.isInteger(size) || size < 1 || size > this.maxPageSize)
      throw new BadUserInputError(`first must be between 1 and ${this.maxPageSize}`, { field: "first" });
    if (filter.emailContains !== undefined && (filter.emailContains.length > 320 || filter.emailContains.includes("\u0000")))
      throw new BadUserInputError("filter.emailContains must be at most 320 characters, without NUL", { field: "filter.emailContains" });
    const rows = await this.keys.listUsers({ ...filter, after: after ? decodeCursor(after) : undefined }, size + 1);
    const edges = rows.slice(0, size).map((node) => ({ node, cursor: encodeCursor(node) }));
    return { edges, pageInfo: { hasNextPage: rows.length > size, endCursor: edges.at(-1)?.cursor ?? null } };
  }

  /** Admins: the user with this email (any case). */
  userByEmail(viewer: Viewer, email: string): Promise<UserEntity> {
    this.admin(viewer);
    return this.keys.userByEmail(email);
  }

  /** Tier and/or disabled; a disabled user's keys stop on every node at once (their sockets closed). */
  updateUser(viewer: Viewer, id: string, change: { tier?: Tier; disabled?: boolean }): Promise<UserEntity> {
    this.admin(viewer);
    if (!isUuid(id)) throw new BadUserInputError("id is not a user id", { field: "id" });
    if (change.tier === undefined && change.disabled === undefined) throw new BadUserInputError("give tier, disabled or both", { field: "tier" });
    if (change.disabled && id === viewer.userId) throw new BadUserInputError("you cannot disable yourself", { field: "disabled" });
    return this.keys.updateUser(id, change);
  }

  // --- keys (their owner, or an admin)

  async createKey(viewer: Viewer, k: NewKey): Promise<{ key: string; entity: ApiKeyEntity }> {
    const userId = k.userId ?? viewer.userId;
    if (userId !== viewer.userId) {
      this.admin(viewer);
      if (!isUuid(userId) || !(await this.keys.userById(userId))) throw new NotFoundError("User", userId);
    }
    return this.keys.createKey(userId, k.label?.trim() || null, validLimits(k));
  }

  async listKeys(viewer: Viewer, userId?: string | null): Promise<ApiKeyEntity[]> {
    const whose = userId ?? viewer.userId;
    if (whose !== viewer.userId) this.admin(viewer);
    if (!isUuid(whose)) throw new BadUserInputError("userId is not a user id", { field: "userId" });
    return this.keys.listKeys(whose);
  }

  async revokeKey(viewer: Viewer, id: string): Promise<ApiKeyEntity> {
    await this.ownKey(viewer, id);
    return this.keys.revoke(id);
  }

  /** A new key with the same label and limits; the old one works `overlapSeconds` more (0: revoked now). */
  async rotateKey(viewer: Viewer, id: string, overlapSeconds = 0): Promise<{ key: string; entity: ApiKeyEntity; old: ApiKeyEntity }> {
    await this.ownKey(viewer, id);
    return this.keys.rotate(id, overlapSeconds);
  }

  /** The key, when the viewer may manage it; NOT_FOUND otherwise (someone else's key is not confirmed to exist). */
  private async ownKey(viewer: Viewer, id: string): Promise<ApiKeyEntity> {
    const key = isUuid(id) ? await this.keys.keyById(id) : null;
    if (!key || (key.userId !== viewer.userId && !isAdmin(viewer))) throw new NotFoundError("API key", id);
    return key;
  }

  private admin(viewer: Viewer): void {
    if (!isAdmin(viewer)) throw new ForbiddenError("Only admins may manage users and other users' keys");
  }
}

/** The limits of a new key, checked (GraphQL's class-validator checks the same; the CLI has only this). */
export function validLimits(k: NewKey): Partial<KeyLimits> {
  if (k.label != null && k.label.length > 200) throw new BadUserInputError("label must be at most 200 characters", { field: "label" });
  if (k.expiresAt != null && (Number.isNaN(k.expiresAt.getTime()) || k.expiresAt.getTime() <= Date.now()))
    throw new BadUserInputError("expiresAt must be in the future", { field: "expiresAt" });
  if (k.budgetUsd != null && !(Number.isFinite(k.budgetUsd) && k.budgetUsd >= 0 && k.budgetUsd <= MAX_USD))
    throw new BadUserInputError(`budgetUsd must be between 0 and ${MAX_USD}`, { field: "budgetUsd" });
  if (k.rateLimitPerMinute != null && !(Number.isInteger(k.rateLimitPerMinute) && k.rateLimitPerMinute >= 1 && k.rateLimitPerMinute <= MAX_RATE_LIMIT_PER_MINUTE))
    throw new BadUserInputError(`rateLimitPerMinute must be a whole number from 1 to ${MAX_RATE_LIMIT_PER_MINUTE}`, { field: "rateLimitPerMinute" });
  let models: string[] | null = null;
  if (k.allowedModels != null) {
    models = [...new Set(k.allowedModels.map((m) => m.trim()))];
    if (!models.length || models.length > MAX_ALLOWED_MODELS)
      throw new BadUserInputError(`allowedModels must list 1 to ${MAX_ALLOWED_MODELS} models (leave it out for any model)`, { field: "allowedModels" });
    const bad = models.find((m) => !/^[\w.:@/-]{1,200}$/.test(m));
    if (bad !== undefined) throw new BadUserInputError(`allowedModels: "${bad}" is not a model id, alias or auto`, { field: "allowedModels" });
  }
  return {
    expiresAt: k.expiresAt ?? null,
    budgetMicros: k.budgetUsd == null ? null : usdToMicros(k.budgetUsd),
    allowedModels: models,
    rateLimitPerMinute: k.rateLimitPerMinute ?? null,
  };
}
