import { Column, CreateDateColumn, Entity, PrimaryColumn } from "typeorm";
import { bigintNumber } from "./transformers";

@Entity("api_keys")
export class ApiKeyEntity {
  @PrimaryColumn("uuid") id: string;
  @Column("uuid", { name: "user_id" }) userId: string;
  @Column("text", { nullable: true }) label: string | null;
  /** Public, non-secret part of the key ("sb_<prefix>_…"), safe to show and log. */
  @Column("text") prefix: string;
  /** SHA-256 of the whole key; the key itself is never stored. */
  @Column("text", { name: "key_hash" }) keyHash: string;
  @CreateDateColumn({ name: "created_at", type: "timestamptz" }) createdAt: Date;
  @Column("timestamptz", { name: "revoked_at", nullable: true }) revokedAt: Date | null;
  @Column("timestamptz", { name: "last_used_at", nullable: true }) lastUsedAt: Date | null;
  /** The key is refused from this instant on (null = never); a rotation with overlap sets it on the old key. */
  @Column("timestamptz", { name: "expires_at", nullable: true }) expiresAt: Date | null;
  /** Per-key budget per quota period (micro-USD), on top of the user's; null = only the user's. */
  @Column("bigint", { name: "budget_micros", nullable: true, transformer: bigintNumber }) budgetMicros: number | null;
  /** Models (ids or aliases) this key may use; null = any the user may. */
  @Column("text", { name: "allowed_models", array: true, nullable: true }) allowedModels: string[] | null;
  /** Requests per minute for this key, across nodes; null = only the user's limits. */
  @Column("int", { name: "rate_limit_per_minute", nullable: true }) rateLimitPerMinute: number | null;
  /** The key this one was rotated to (a key is rotated once); null = not rotated. */
  @Column("uuid", { name: "replaced_by", nullable: true }) replacedBy: string | null;
}
