import { Column, Entity, PrimaryColumn } from "typeorm";
import { bigintNumber } from "./transformers";

/** INVALID: answered, but the output failed validation; SKIPPED: no call made (no usable key). */
export type AttemptStatus = "RUNNING" | "SUCCEEDED" | "FAILED" | "CANCELLED" | "INVALID" | "SKIPPED";

/** One upstream call made for a generation. */
@Entity("generation_attempts")
export class GenerationAttemptEntity {
  @PrimaryColumn("uuid") id: string;
  @Column("uuid", { name: "generation_id" }) generationId: string;
  @Column("integer", { name: "attempt_no" }) attemptNo: number;
  @Column("text") provider: string;
  @Column("text") model: string;
  @Column("text", { name: "key_label", nullable: true }) keyLabel: string | null;
  @Column("text") status: AttemptStatus;
  @Column("integer", { name: "latency_ms", nullable: true }) latencyMs: number | null;
  @Column("text", { name: "error_kind", nullable: true }) errorKind: string | null;
  @Column("text", { name: "error_message", nullable: true }) errorMessage: string | null;
  @Column("bigint", { name: "cost_micros", transformer: bigintNumber }) costMicros: number;
  @Column("timestamptz", { name: "created_at" }) createdAt: Date;
}
