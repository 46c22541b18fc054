import type { Priority } from "../../db/entities/generation.entity";
import type { AudioOptions, Modality, TextOptions, VideoOptions } from "../../providers/contract";

/** Which API a generation was requested through: GraphQL's createGeneration, or a /v1 endpoint. */
export type GenerationSource = "GRAPHQL" | "OPENAI" | "ANTHROPIC";

/** createGeneration's input as the domain receives it (already shape-checked by the API layer). */
export interface CreateGenerationCommand {
  modality: Modality;
  model: string;
  prompt?: string | null;
  messages?: { role: string; content: { type: string; text?: string | null; url?: string | null }[] }[] | null;
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
  /** Terminal events of this generation are POSTed here, signed with the user's callback secret (webhooks). */
  callbackUrl?: string | null;
  /** Models to fall back to, in order, after the requested one (or the alias's chain). */
  fallbackModels?: string[] | null;
  /** For `auto` (and to filter aliases): the minimum quality and the largest worst-case cost. */
  requirements?: { minQuality?: number | null; maxCostUsd?: number | null } | null;
  /** Which API it came through (default GRAPHQL); stored with the viewer's request id. */
  source?: GenerationSource | null;
}
