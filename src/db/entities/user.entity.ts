import { Column, CreateDateColumn, Entity, PrimaryColumn } from "typeorm";
import type { Tier } from "../../config/config";

export type Role = "ADMIN" | "USER";

@Entity("users")
export class UserEntity {
  @PrimaryColumn("uuid") id: string;
  @Column("text") email: string;
  @Column("text") role: Role;
  @Column("text") tier: Tier;
  @CreateDateColumn({ name: "created_at", type: "timestamptz" }) createdAt: Date;
}
