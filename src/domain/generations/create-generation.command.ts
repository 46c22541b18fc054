import type { Priority } from "../../db/entities/generation.entity";
import type { AudioOptions, Modality, TextOptions, VideoOptions } from "../../providers/contract";

/** Which API a generation was requested through: GraphQL's createGeneration, or a /v1 endpoint. */
export type GenerationSource = "GRAPHQL" | "OPENAI" | "ANTHROPIC";

/** createGeneration's input as the domain receives it (already shape-checked by the API layer). */
export interface CreateGenerationCommand {
  modality: Modality;
  model: string;
  prompt?: string | null;
  messages?: {
    role: string;
    content: { type: string; text?: string | null; url?: string | null }[];
    /** An assistant message's tool calls (see ChatMessage). */
    toolCalls?: { id: string; name: string; arguments: string }[] | null;
    /** A tool message's call id. */
    toolCallId?: string | null;
    /** A tool message that reports an error. */
    toolError?: boolean | null;
  }[] | null;
  system?: string | null;
  text?: TextOptions | null;
  image?: { width?: number | null; height?: number | null; count?: number | null; style?: string | null } | null;
  video?: Partial<VideoOptions> | null;
  audio?: Partial<AudioOptions> | null;
  params?: unknown;
  priority?: Priority | null;
  seed?: number | null;
  idempotencyKey?: string | null;
  wait?: number | null;
  /** Upper bound on this request's cost; a route whose estimate exceeds it is not used. */
  maxCostUsd?: number | null;
  /** AUTO (default: only deterministic requests), USE, BYPASS or REFRESH. */
  cache?: "AUTO" | "USE" | "BYPASS" | "REFRESH" | null;
  /** Give up (DEADLINE_EXCEEDED) if not finished this many seconds after creation; the upstream call is aborted. */
  deadlineSeconds?: number | null;
  /** Opt in (or out) of the semantic cache; default: the route's setting. */
  semanticCache?: boolean | null;
  /** When every candidate's circuit is OPEN: WAIT (default) or FAIL. */
  whenUnavailable?: "WAIT" | "FAIL" | null;
  /** A flagged output (MODERATION=output|both): FAIL the generation (default) or FALLBACK to the next candidate. */
  onFlagged?: "FAIL" | "FALLBACK" | null;
  /** Terminal events of this generation are POSTed here, signed with the user's callback secret (webhooks). */
  callbackUrl?: string | null;
  /** Models to fall back to, in order, after the requested one (or the alias's chain). */
  fallbackModels?: string[] | null;
  /** For `auto` (and to filter aliases): the minimum quality and the largest worst-case cost. */
  requirements?: { minQuality?: number | null; maxCostUsd?: number | null } | null;
  /** Which API it came through (default GRAPHQL); stored with the viewer's request id. */
  source?: GenerationSource | null;
  /** An OpenAI background response (POST /v1/responses, background: true): stored so a retrieved response says so. */
  background?: boolean | null;
  /**
   * The caller follows the generation's events at once (a /v1 stream): like a `wait`, it may run in
   * this process when a local slot is free (the fast sync path), but create returns without waiting.
   */
  follow?: boolean | null;
}

/**
 * Callbacks of one GenerationService.create call. `onAdmitted(id)`: the row exists and its
 * reservation is held (before any wait), e.g. so a /v1 request whose client leaves can cancel
 * it; not called for a cache hit or an idempotent replay (nothing of this request's to cancel).
 */
export interface CreateHooks {
  onAdmitted?(generationId: string): void;
  /**
   * Called with the new generation's id before anything about it exists; no event of that id goes
   * out before the promise settles (a /v1 stream subscribes to it here, so it needs no snapshot
   * read afterwards). It must not reject. Not called for a cache hit or an idempotent replay, whose
   * answer has another id.
   */
  beforeEvents?(generationId: string): Promise<unknown>;
}
