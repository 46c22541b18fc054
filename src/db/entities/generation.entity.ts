import { Column, Entity, PrimaryColumn } from "typeorm";
import type {
  AudioOptions, ChatMessage, ImageOptions, Modality, TextOptions, VideoOptions,
} from "../../providers/contract";
import { bigintNumber } from "./transformers";

export type GenerationStatus = "QUEUED" | "RUNNING" | "SUCCEEDED" | "FAILED" | "CANCELLED";
/** BATCH: through the provider's batch API at its discount (domain/batches/); LOW where the provider has none. */
export type Priority = "HIGH" | "NORMAL" | "LOW" | "BATCH";
export const TERMINAL_STATUSES: readonly GenerationStatus[] = ["SUCCEEDED", "FAILED", "CANCELLED"];

/** What a finished generation produced. Media are referenced by blob key, never inlined. */
export interface StoredOutput {
  text?: string;
  embedding?: number[];
  files?: { key: string; mimeType: string; sizeBytes: number; width?: number; height?: number; durationSeconds?: number }[];
  usage?: { inputTokens?: number; outputTokens?: number; images?: number; seconds?: number };
  finishReason?: string;
  toolCalls?: unknown[];
}

/** One model a generation may run on, in routing order. */
export interface Candidate {
  /** Public id "<provider>/<model>". */
  model: string;
  provider: string;
  providerModel: string;
}

/** An upstream task still running (async providers): re-checked by a delayed job. */
export interface UpstreamTask {
  taskId: string;
  state?: Record<string, unknown>;
  provider: string;
  providerModel: string;
  keyLabel?: string;
  attemptNo: number;
  startedAt: string;
}

/** A moderation stage: the request's texts at admission, or an attempt's output before SUCCEEDED. */
export type ModerationStage = "INPUT" | "OUTPUT";

/** What content moderation (MODERATION) found for a generation; null when no check ran (moderation off, a cache hit). */
export interface StoredModeration {
  /** Some text of this generation was flagged (with FALLBACK a later attempt may still have served a clean answer). */
  flagged: boolean;
  /** Where the (last) flag was raised; null when nothing was flagged. */
  stage: ModerationStage | null;
  /** Every category flagged, sorted (the classifier's names). */
  categories: string[];
  /** Attempts whose output was flagged (each one an INVALID attempt, its cost charged). */
  flaggedAttempts: number;
  /** Stages checked by the classifier. */
  checked: ModerationStage[];
  /** Stages let through unchecked because the classifier was down or slow (MODERATION_ON_ERROR=open). */
  unchecked: ModerationStage[];
  /** The classifier: "<provider>" or "<provider>/<model>". */
  classifier: string;
}

@Entity("generations")
export class GenerationEntity {
  @PrimaryColumn("uuid") id: string;
  @Column("uuid", { name: "user_id" }) userId: string;
  @Column("uuid", { name: "api_key_id", nullable: true }) apiKeyId: string | null;
  @Column("text") status: GenerationStatus;
  @Column("text") modality: Modality;
  /** As requested: "<provider>/<model>", an alias or "auto". */
  @Column("text") model: string;
  @Column("text", { nullable: true }) provider: string | null;
  @Column("text", { name: "provider_model", nullable: true }) providerModel: string | null;
  @Column("text", { nullable: true }) prompt: string | null;
  @Column("jsonb", { nullable: true }) messages: ChatMessage[] | null;
  @Column("text", { nullable: true }) system: string | null;
  @Column("jsonb", { name: "text_options", nullable: true }) textOptions: TextOptions | null;
  @Column("jsonb", { name: "image_options", nullable: true }) imageOptions: ImageOptions | null;
  @Column("jsonb", { name: "video_options", nullable: true }) videoOptions: VideoOptions | null;
  @Column("jsonb", { name: "audio_options", nullable: true }) audioOptions: AudioOptions | null;
  @Column("jsonb", { default: {} }) params: Record<string, unknown>;
  @Column("text") priority: Priority;
  @Column("integer", { nullable: true }) seed: number | null;
  @Column("real", { default: 0 }) progress: number;
  @Column("jsonb", { nullable: true }) output: StoredOutput | null;
  @Column("text", { name: "error_code", nullable: true }) errorCode: string | null;
  @Column("text", { name: "error_message", nullable: true }) errorMessage: string | null;
  @Column("boolean", { default: false }) cached: boolean;
  @Column("bigint", { name: "estimated_cost_micros", transformer: bigintNumber }) estimatedCostMicros: number;
  @Column("bigint", { name: "cost_micros", nullable: true, transformer: bigintNumber }) costMicros: number | null;
  @Column("text", { name: "idempotency_key", nullable: true }) idempotencyKey: string | null;
  /** With an idempotency key: the fingerprint of the request it was first used with (requestFingerprint). */
  @Column("text", { name: "request_hash", nullable: true }) requestHash: string | null;
  /** Budget held for this generation (reservation plus extensions); released in full when it ends. */
  @Column("bigint", { name: "reserved_micros", transformer: bigintNumber }) reservedMicros: number;
  /** The quota period the reservation was made in (settlement goes there). */
  @Column("timestamptz", { name: "quota_period_start", nullable: true }) quotaPeriodStart: Date | null;
  @Column("bigint", { name: "max_cost_micros", nullable: true, transformer: bigintNumber }) maxCostMicros: number | null;
  @Column("text", { name: "cache_policy", default: "AUTO" }) cachePolicy: "AUTO" | "USE" | "BYPASS" | "REFRESH";
  /** "<scope>:<hash>" when the result is to be written to the exact cache. */
  @Column("text", { name: "cache_key", nullable: true }) cacheKey: string | null;
  /** For cache hits: where the answer came from. */
  @Column("jsonb", { name: "cache_hit", nullable: true }) cacheHit: { kind: "EXACT" | "SEMANTIC" | "COALESCED"; similarity: number; sourceGenerationId: string } | null;
  /** Set when the result is to be written to the semantic cache (opt-in). */
  @Column("text", { name: "semantic_scope", nullable: true }) semanticScope: string | null;
  /** Set on a follower: the generation whose upstream work it shares (in-flight coalescing). */
  @Column("uuid", { name: "group_id", nullable: true }) groupId: string | null;
  /** When the whole request gives up (DEADLINE_EXCEEDED), from createGeneration's deadlineSeconds. */
  @Column("timestamptz", { name: "deadline_at", nullable: true }) deadlineAt: Date | null;
  /** Routing's ordered candidates (primary first, then fallbacks); null for cache hits. */
  @Column("jsonb", { nullable: true }) candidates: Candidate[] | null;
  /** Which candidate runs now (provider/providerModel mirror it). */
  @Column("integer", { name: "candidate_index", default: 0 }) candidateIndex: number;
  @Column("jsonb", { name: "upstream_task", nullable: true }) upstreamTask: UpstreamTask | null;
  /** When every candidate's circuit is OPEN: WAIT (delayed until the earliest probe) or FAIL (SERVICE_UNAVAILABLE at once). */
  @Column("text", { name: "when_unavailable", default: "WAIT" }) whenUnavailable: "WAIT" | "FAIL";
  /** createGeneration's callbackUrl: terminal events are POSTed there, signed with the user's callback secret. */
  @Column("text", { name: "callback_url", nullable: true }) callbackUrl: string | null;
  /** Which API it was requested through: GRAPHQL (createGeneration), OPENAI or ANTHROPIC (the /v1 endpoints). */
  @Column("text", { default: "GRAPHQL" }) source: "GRAPHQL" | "OPENAI" | "ANTHROPIC";
  /** The request id (x-request-id, or the one the server gave) of the request that created it. */
  @Column("text", { name: "request_id", nullable: true }) requestId: string | null;
  /** Created as an OpenAI background response (POST /v1/responses, background: true); false (the default) otherwise. */
  @Column("boolean", { default: false }) background?: boolean;
  /** Content moderation's findings (MODERATION); null when no check ran. */
  @Column("jsonb", { nullable: true }) moderation: StoredModeration | null;
  /** A flagged output (MODERATION=output|both): FAIL the generation (default) or FALLBACK to the next candidate. */
  @Column("text", { name: "on_flagged", default: "FAIL" }) onFlagged: "FAIL" | "FALLBACK";
  /** Claim counter: bumped each time a worker takes the job; guards every transition. */
  @Column("integer", { name: "run_attempt", default: 0 }) runAttempt: number;
  /**
   * At or above every event seq this generation may have published (QUEUED is 1; each run reserves
   * a block ahead): an event counter Redis lost restarts above it, so seq never goes backwards.
   */
  @Column("integer", { name: "seq_reserved", default: 1 }) seqReserved: number;
  @Column("timestamptz", { name: "created_at" }) createdAt: Date;
  @Column("timestamptz", { name: "updated_at" }) updatedAt: Date;
  @Column("timestamptz", { name: "started_at", nullable: true }) startedAt: Date | null;
  @Column("timestamptz", { name: "completed_at", nullable: true }) completedAt: Date | null;
  /**
   * Not a column: how many attempts the generation has, when the statement that returned this row counted them
   * (the success transition does, for the /v1 `x-switchboard-attempts` header without a read of its own).
   */
  attemptCount?: number;
  /**
   * Not a column: the user's live webhook endpoints, when the statement that returned this row read them with the
   * transition (the success transition does, so the webhook dispatch of the most common terminal event needs no lookup
   * of its own: one statement and one Postgres round trip fewer per generation). Undefined: not read, look them up.
   */
  liveWebhookEndpoints?: LiveWebhookEndpoint[];
}

/** A live (not deleted) webhook endpoint as the success transition reads it (created_at: timestamptz as JSON text). */
export interface LiveWebhookEndpoint {
  id: string;
  user_id: string;
  url: string;
  events: string[];
  created_at: Date | string;
}
