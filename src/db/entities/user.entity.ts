import { Column, CreateDateColumn, Entity, PrimaryColumn } from "typeorm";
import type { Tier } from "../../config/config";
import { bigintNumber } from "./transformers";

export type Role = "ADMIN" | "USER";

@Entity("users")
export class UserEntity {
  @PrimaryColumn("uuid") id: string;
  @Column("text") email: string;
  @Column("text") role: Role;
  @Column("text") tier: Tier;
  /** Per-user budget override (micro-USD per period); null = the tier default. */
  @Column("bigint", { name: "quota_limit_micros", nullable: true, transformer: bigintNumber }) quotaLimitMicros: number | null;
  @CreateDateColumn({ name: "created_at", type: "timestamptz" }) createdAt: Date;
  /** When an admin disabled the user (every key refused); null = active. */
  @Column("timestamptz", { name: "disabled_at", nullable: true }) disabledAt: Date | null;
}
