import { GenerationEntity, type StoredOutput } from "../db/entities/generation.entity";

export type GenerationEventType =
  | "SNAPSHOT" | "QUEUED" | "STARTED" | "PROGRESS" | "DELTA" | "RESTARTED"
  | "RETRYING" | "FALLBACK" | "SUCCEEDED" | "FAILED" | "CANCELLED";

export const TERMINAL_EVENT_TYPES: ReadonlySet<GenerationEventType> = new Set(["SUCCEEDED", "FAILED", "CANCELLED"]);

/**
 * What a subscriber may see of a generation: exactly what GraphQL's `Generation` reads, its own
 * fields and its field resolvers' inputs (output files by blob key, to sign their URLs; the
 * candidates' public ids; the response format, to parse JSON output; the user id, for `user`).
 * Never the reservation, the callback URL, the cache key, the upstream task (key label), the
 * messages or the run counters. An entity is one (it has every field); an event carries only these.
 * The output travels whole (its finish reason and tool calls too, which GraphQL does not read but
 * the /v1 answers do), marked `whole` so a reader can tell it from an older process's view.
 */
export type GenerationView = Pick<
  GenerationEntity,
  | "id" | "userId" | "status" | "modality" | "model" | "provider" | "prompt" | "system" | "priority" | "seed" | "progress"
  | "cached" | "cacheHit" | "params" | "estimatedCostMicros" | "costMicros" | "errorCode" | "errorMessage"
  | "createdAt" | "startedAt" | "completedAt" | "source" | "requestId" | "moderation"
> & {
  output: (Pick<StoredOutput, "text" | "embedding" | "usage" | "files"> & Partial<Pick<StoredOutput, "finishReason" | "toolCalls">> & { whole?: true }) | null;
  candidates: Pick<NonNullable<GenerationEntity["candidates"]>[number], "model">[] | null;
  textOptions: Pick<NonNullable<GenerationEntity["textOptions"]>, "responseFormat"> | null;
};

/** The view as it travels inside an event: plain JSON (dates as ISO strings). */
export type GenerationViewJson = Omit<GenerationView, "createdAt" | "startedAt" | "completedAt"> & {
  createdAt: string;
  startedAt: string | null;
  completedAt: string | null;
};

/** What crosses Redis for every generation event. `seq` is gap-free per generation. */
export interface GenerationEventPayload {
  seq: number;
  type: GenerationEventType;
  generationId: string;
  userId: string;
  at: string;
  progress?: number;
  delta?: string;
  /** SNAPSHOT only: the text accumulated so far. */
  text?: string;
  /** Human-readable reason (RETRYING, FALLBACK, RESTARTED). */
  message?: string;
  /** QUEUED events the queue watcher publishes: the place in line and the estimated start (ISO). */
  queuePosition?: number | null;
  estimatedStartAt?: string | null;
  generation: GenerationViewJson;
}

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

/** The view of a generation (an entity, usually) for an event: only the view's fields are copied. */
export function toEventView(g: GenerationView): GenerationViewJson {
  const o = g.output;
  return {
    id: g.id, userId: g.userId, status: g.status, modality: g.modality, model: g.model, provider: g.provider,
    prompt: g.prompt, system: g.system, priority: g.priority, seed: g.seed, progress: g.progress,
    cached: g.cached, cacheHit: g.cacheHit, params: g.params,
    estimatedCostMicros: g.estimatedCostMicros, costMicros: g.costMicros, errorCode: g.errorCode, errorMessage: g.errorMessage,
    source: g.source, requestId: g.requestId, moderation: g.moderation ?? null,
    // null stays null and a present object stays an object (the `output` field is null only when it is).
    // `whole` only for a row (every field there) or a view that was whole: a view from an older process stays unmarked.
    output: o ? { text: o.text, embedding: o.embedding, usage: o.usage, files: o.files, finishReason: o.finishReason, toolCalls: o.toolCalls, ...(g instanceof GenerationEntity || o.whole ? { whole: true as const } : {}) } : o,
    candidates: g.candidates ? g.candidates.map((c) => ({ model: c.model })) : g.candidates,
    textOptions: g.textOptions ? { responseFormat: g.textOptions.responseFormat } : g.textOptions,
    createdAt: iso(g.createdAt)!,
    startedAt: iso(g.startedAt),
    completedAt: iso(g.completedAt),
  };
}

/** The generation of an event, as the API resolves it (dates as dates). */
export function fromEventView(s: GenerationViewJson): GenerationView {
  return {
    ...s,
    // An event published by a process from before these fields (a rolling deploy) lacks them.
    source: s.source ?? "GRAPHQL",
    requestId: s.requestId ?? null,
    moderation: s.moderation ?? null,
    createdAt: new Date(s.createdAt),
    startedAt: s.startedAt ? new Date(s.startedAt) : null,
    completedAt: s.completedAt ? new Date(s.completedAt) : null,
  };
}
