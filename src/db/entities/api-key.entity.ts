import { Column, CreateDateColumn, Entity, PrimaryColumn } from "typeorm";

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
}
