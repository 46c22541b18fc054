/**
 * The provider adapter contract, one coherent thing: the interface every adapter implements and
 * the types it speaks (generation, async tasks, moderation, batch APIs). Every upstream (and the built-in `simulated` provider)
 * implements {@link GenerationProvider}; cross-cutting concerns (timeouts, retries,
 * breakers, key pools, metrics) wrap adapters in the registry/processor, never inside one.
 */

export type Modality = "TEXT" | "IMAGE" | "VIDEO" | "AUDIO" | "EMBEDDING";
export const MODALITIES: readonly Modality[] = ["TEXT", "IMAGE", "VIDEO", "AUDIO", "EMBEDDING"];

export type ContentPart = { type: "text"; text: string } | { type: "image_url"; url: string };

/** A tool call an assistant message made, as the history of a tool conversation carries it back. */
export interface MessageToolCall {
  /** The call's id (OpenAI `tool_calls[].id`, Anthropic `tool_use.id`): the tool message answering it names it. */
  id: string;
  /** The function (tool) name. */
  name: string;
  /** Its arguments as JSON text, as the model wrote them. */
  arguments: string;
}

/**
 * One turn. A multi-turn tool conversation carries its ids, so each adapter can send them in its
 * own wire format (OpenAI `tool_calls` / `role: tool` + `tool_call_id`, Anthropic `tool_use` /
 * `tool_result` + `tool_use_id`): an assistant message's `toolCalls` (its content may then be
 * empty), a tool message's `toolCallId`.
 */
export interface ChatMessage {
  role: "system" | "user" | "assistant" | "tool";
  content: ContentPart[];
  /** role assistant: the tool calls it made. */
  toolCalls?: MessageToolCall[];
  /** role tool: the id of the tool call this result answers. */
  toolCallId?: string;
  /** role tool: the result is an error (Anthropic's `is_error`; OpenAI has no field for it). */
  toolError?: boolean;
}

export interface TextOptions {
  /** Sampling temperature, 0..2. */
  temperature?: number;
  /** Upper bound on output tokens. */
  maxTokens?: number;
  responseFormat?: "TEXT" | "JSON";
  /** Tool definitions, passed through in the provider's format. */
  tools?: unknown[];
  /** Stop sequences: the answer ends before the first one it would contain. Each adapter sends them under its API's name. */
  stop?: string[];
  /** Whether and which tool the model must call; each adapter sends it in its API's shape. */
  toolChoice?: ToolChoice;
}

/**
 * A provider-neutral tool choice: `auto` (the model decides), `none` (no tool call), `required`
 * (some tool: OpenAI's "required", Anthropic's "any"), or one named tool. `disableParallel`: at
 * most one tool call (OpenAI's `parallel_tool_calls: false`, Anthropic's `disable_parallel_tool_use`).
 */
export type ToolChoice = ({ type: "auto" | "none" | "required" } | { type: "tool"; name: string }) & { disableParallel?: boolean };
export interface ImageOptions { width: number; height: number; count: number; style?: string }
export interface VideoOptions { durationSeconds: number; resolution?: string; imageUrl?: string }
export interface AudioOptions { voice?: string; format?: string; speed?: number; durationSeconds?: number }

/** A normalised request, as the adapter receives it. `model` is the provider's own model id. */
export interface GenerationRequest {
  modality: Modality;
  model: string;
  prompt?: string;
  messages?: ChatMessage[];
  system?: string;
  text?: TextOptions;
  image?: ImageOptions;
  video?: VideoOptions;
  audio?: AudioOptions;
  /** Provider-specific extras, passed through untouched. */
  params: Record<string, unknown>;
  seed?: number;
}

/** Per-call context. */
export interface ProviderCall {
  /** The API key picked from this provider's key pool (never logged, never in an error message). */
  apiKey?: string;
  /** The key's label, for attempts and logs. */
  keyLabel?: string;
  /** Aborted on cancel, deadline or timeout: adapters must stop work and reject promptly. */
  signal: AbortSignal;
  /** Per-attempt timeout in milliseconds (the caller also enforces it through `signal`). */
  timeoutMs: number;
  /** 1-based upstream attempt number for this generation. */
  attempt: number;
  /** Progress in 0..1 (media). */
  onProgress(progress: number): void;
  /** A streamed text chunk (text). */
  onDelta(delta: string): void;
}

export interface MediaOutput {
  data: Buffer;
  mimeType: string;
  width?: number;
  height?: number;
  durationSeconds?: number;
}

export interface Usage {
  inputTokens?: number;
  outputTokens?: number;
  images?: number;
  seconds?: number;
  /** What the provider itself says the call cost (OpenRouter's `usage.cost`), integer micro-USD; charged for unpriced models. */
  reportedCostMicros?: number;
}

export interface GenerationResult {
  text?: string;
  /** Tool calls the model asked for (OpenAI shape: { id, type: "function", function: { name, arguments } }). */
  toolCalls?: unknown[];
  embedding?: number[];
  media?: MediaOutput[];
  usage: Usage;
  finishReason?: string;
}

/** Prices in integer micro-USD. */
export interface Pricing {
  inputPer1kTokens?: number;
  outputPer1kTokens?: number;
  perImage?: number;
  perSecond?: number;
}

export interface ModelInfo {
  /** Public id: "<provider>/<model>". */
  id: string;
  provider: string;
  /** The provider's own model id. */
  name: string;
  modality: Modality;
  description: string;
  pricing: Pricing;
  /** Largest output for text (tokens). */
  maxOutputTokens?: number;
  /** Context window for text (tokens). */
  contextTokens?: number;
  /** Largest image side in pixels (image models). */
  maxImageSide?: number;
  /** Relative quality, 0..100: `auto` routing's `requirements.minQuality` compares against it. A model without one takes no part in `auto`. */
  quality?: number;
  /** Where the entry comes from: the built-in catalog, the providers file, or the provider's own model list. */
  source?: "BUILT_IN" | "FILE" | "DISCOVERED";
  /** Where its prices come from (see the README's catalog section); UNPRICED: no known price. */
  pricingSource?: PricingSource;
  /** When the provider last listed it (discovered models), ISO-8601. */
  seenAt?: string;
  /** An unpriced model allowed by UNPRICED_MODELS=allow: what each request reserves (UNPRICED_RESERVE_USD), micro-USD. */
  unpricedReserveMicros?: number;
}

export type PricingSource = "BUILT_IN" | "FILE" | "UPSTREAM" | "PRICE_TABLE" | "LOCAL" | "UNPRICED";

/** One entry of a provider's own model list (GET /models, Ollama's tags, …). Prices in integer micro-USD when the upstream publishes them. */
export interface ListedModel {
  name: string;
  modality: Modality;
  description?: string;
  contextTokens?: number;
  maxOutputTokens?: number;
  pricing?: Pricing;
}

/**
 * An upstream task still running (async providers such as video): the worker gives its slot
 * back and a delayed job re-checks it after `checkAfterMs` through {@link GenerationProvider.poll}.
 */
export interface PendingTask {
  pending: true;
  /** The provider's task or prediction id. */
  taskId: string;
  /** Whatever the adapter needs to re-check or cancel it (JSON-serialisable). */
  state?: Record<string, unknown>;
  /** When to look again. */
  checkAfterMs: number;
  /** 0..1 when the provider reports it. */
  progress?: number;
}

export type GenerateOutcome = GenerationResult | PendingTask;

export const isPending = (r: GenerateOutcome): r is PendingTask => (r as PendingTask).pending === true;

/** What a health check or an admin call gets: no streaming, no attempt. */
export interface ProviderProbeCall {
  apiKey?: string;
  signal: AbortSignal;
}

/**
 * Content moderation (MODERATION): the texts to classify, in one call. `model` is the provider's
 * classifier (OpenAI `omni-moderation-latest`); undefined: the provider's default.
 */
export interface ModerationRequest {
  model?: string;
  inputs: string[];
}

/** One input's verdict: flagged or not, and the categories that flagged it (the provider's names, e.g. `violence`, `hate/threatening`). */
export interface ModerationVerdict {
  flagged: boolean;
  categories: string[];
  /** The provider's score per category, 0..1, when it reports them. */
  scores?: Record<string, number>;
}

export interface GenerationProvider {
  /** kebab-case, equals the folder name. */
  readonly id: string;
  readonly displayName: string;
  /** True for providers that fabricate output locally (no upstream call). */
  readonly simulated: boolean;
  readonly models: readonly ModelInfo[];
  /** Does the work, or starts an upstream task and returns it pending (async providers). */
  generate(req: GenerationRequest, call: ProviderCall): Promise<GenerateOutcome>;
  /** Async providers: re-checks a pending task; the finished result (files fetched), still pending, or a ProviderError. */
  poll?(task: PendingTask, req: GenerationRequest, call: ProviderCall): Promise<GenerateOutcome>;
  /** Async providers: stops the upstream task (our generation was cancelled). Best effort. */
  cancelTask?(task: PendingTask, call: ProviderProbeCall): Promise<void>;
  /** Embeddings: several inputs in one upstream call, results in input order (micro-batching). */
  embedBatch?(reqs: GenerationRequest[], call: ProviderCall): Promise<GenerationResult[]>;
  /** The provider's own model list, where its API has one (discovery); throws a ProviderError. */
  listModels?(call: ProviderProbeCall): Promise<ListedModel[]>;
  /** Cheap authenticated check that the provider answers (e.g. list models); throws a ProviderError. */
  healthCheck?(call: ProviderProbeCall): Promise<void>;
  /** True when calls need an API key from the key pool (false: local servers such as Ollama or LM Studio). */
  readonly requiresKey?: boolean;
  /** Keys of `params` that do not affect output (left out of cache keys). */
  readonly cacheIgnoredParams?: readonly string[];
  /**
   * Content moderation: classifies texts, one verdict per input in input order (OpenAI's
   * /v1/moderations; the simulated provider's fabricated classifier); throws a ProviderError.
   * A provider without it cannot be MODERATION_PROVIDER.
   */
  moderate?(req: ModerationRequest, call: ProviderProbeCall & { timeoutMs: number }): Promise<ModerationVerdict[]>;
  /** Optional request-time check of provider-specific params: a message naming what to fix, or undefined. */
  validateRequest?(req: GenerationRequest): string | undefined;
  /** The provider's batch API (OpenAI Batch, Anthropic Message Batches), where it has one: TEXT at the batch price. */
  readonly batch?: BatchApi;
}

/** One request of a provider batch: `customId` names its line in the results. */
export interface BatchItem {
  customId: string;
  request: GenerationRequest;
}

/** A provider batch's state: still running, or ended (its results can be read). */
export interface BatchStatus {
  state: "pending" | "ended" | "failed";
  /** The provider's own status word (validating, in_progress, ended …). */
  providerStatus: string;
  /** Why the whole batch failed (state "failed"). */
  message?: string;
  /** Where the results are (OpenAI's output and error file ids; Anthropic needs none). */
  resultRefs?: Record<string, string>;
}

/** One line of a finished batch: the result, or the error of that request alone. */
export type BatchLine = { customId: string; result: GenerationResult } | { customId: string; error: ProviderError };

/**
 * A provider's batch API: submit many requests at once, check on them, read the results by
 * custom id (they may come back in any order). Every failure is a ProviderError.
 */
export interface BatchApi {
  /**
   * Submits the items as one provider batch; the provider's batch id. `marker`: our own id of
   * the batch, recorded before the call, sent where the provider keeps it (OpenAI `metadata`).
   */
  submit(items: BatchItem[], call: ProviderProbeCall, marker: string): Promise<{ batchId: string; state?: Record<string, string> }>;
  /**
   * The provider batches, created since `since`, that may be this submission's from an earlier
   * try whose id was never stored (a crash, a timeout after the provider accepted): OpenAI
   * matches `marker` in their metadata; Anthropic keeps no metadata, so its candidates are the
   * recent batches with as many requests, narrowed by their results' custom ids once ended.
   * `exact`: certainly ours. Newest first.
   */
  findSubmitted(marker: string, items: BatchItem[], since: Date, call: ProviderProbeCall): Promise<{ batchId: string; exact: boolean; state?: Record<string, string> }[]>;
  check(batchId: string, call: ProviderProbeCall): Promise<BatchStatus>;
  /**
   * The lines of an ended batch (`refs`: what check returned in resultRefs; `requests`: the
   * batch's requests by custom id, for token estimates where a line reports no usage).
   */
  results(batchId: string, refs: Record<string, string> | undefined, requests: ReadonlyMap<string, GenerationRequest>, call: ProviderProbeCall): Promise<BatchLine[]>;
}

export type ProviderErrorKind =
  | "rate_limited"
  | "auth"
  | "invalid_request"
  | "content_policy"
  | "timeout"
  | "unavailable"
  | "bad_response"
  | "cancelled";

const RETRYABLE: Record<ProviderErrorKind, boolean> = {
  rate_limited: true,
  auth: false,
  invalid_request: false,
  content_policy: false,
  timeout: true,
  unavailable: true,
  bad_response: true,
  cancelled: false,
};

/** The only error adapters throw. */
export class ProviderError extends Error {
  readonly provider: string;
  readonly kind: ProviderErrorKind;
  readonly retryable: boolean;
  readonly status?: number;
  readonly retryAfterSeconds?: number;
  /** True when part of a text answer had already streamed before the failure. */
  readonly partial: boolean;

  constructor(init: {
    provider: string;
    kind: ProviderErrorKind;
    message: string;
    status?: number;
    retryAfterSeconds?: number;
    retryable?: boolean;
    partial?: boolean;
  }) {
    super(init.message);
    this.name = "ProviderError";
    this.provider = init.provider;
    this.kind = init.kind;
    this.status = init.status;
    this.retryAfterSeconds = init.retryAfterSeconds;
    this.retryable = init.retryable ?? RETRYABLE[init.kind];
    this.partial = init.partial ?? false;
  }
}
