/**
 * Cost estimates and actual costs, in integer micro-USD.
 *
 * What a TEXT request reserves (its worst case): the estimated input tokens plus an output bound,
 * the smallest of `text.maxTokens` (or {@link DEFAULT_RESERVED_OUTPUT_TOKENS} when the request
 * names none), the model's max output and what its context window leaves after the input. The
 * same bound is sent upstream as the request's max tokens (see {@link outputBound}), so the
 * reservation really is the most the call can cost. A model with no known price (allowed by
 * UNPRICED_MODELS=allow) reserves a flat amount instead, and is charged what the provider
 * reports it cost, where it reports one.
 */
import type { GenerationRequest, ModelInfo, Usage } from "../../providers/contract";

/** ≈ 4 characters per token; never 0. */
export function estimateTokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4));
}

export function inputText(req: Pick<GenerationRequest, "prompt" | "messages" | "system">): string {
  const parts: string[] = [];
  if (req.system) parts.push(req.system);
  if (req.prompt) parts.push(req.prompt);
  for (const m of req.messages ?? []) for (const c of m.content) if (c.type === "text") parts.push(c.text);
  return parts.join("\n");
}

/** The output bound of a model that states no max output (and of requests that name none, below). */
export const DEFAULT_MAX_OUTPUT_TOKENS = 1024;

/**
 * The output a TEXT request without `text.maxTokens` may produce (and reserves): long answers
 * need an explicit maxTokens, so "hi" to a 64k-output model reserves 4,096 tokens, not 64,000.
 */
export const DEFAULT_RESERVED_OUTPUT_TOKENS = 4096;

/**
 * The most output tokens a TEXT request to `model` can produce: the request's maxTokens (else
 * the default), bounded by the model's max output and by its context window less the input.
 */
export function outputBound(req: GenerationRequest, model: ModelInfo, inputTokens = estimateTokens(inputText(req))): number {
  let bound = req.text?.maxTokens ?? Math.min(DEFAULT_RESERVED_OUTPUT_TOKENS, model.maxOutputTokens ?? DEFAULT_MAX_OUTPUT_TOKENS);
  if (model.maxOutputTokens) bound = Math.min(bound, model.maxOutputTokens);
  if (model.contextTokens) bound = Math.min(bound, Math.max(1, model.contextTokens - inputTokens));
  return Math.max(1, bound);
}

/** Worst-case usage of a request: what a budget reservation must cover. */
export function worstCaseUsage(req: GenerationRequest, model: ModelInfo): Usage {
  switch (req.modality) {
    case "TEXT": {
      const inputTokens = estimateTokens(inputText(req));
      return { inputTokens, outputTokens: outputBound(req, model, inputTokens) };
    }
    case "EMBEDDING":
      return { inputTokens: estimateTokens(inputText(req)) };
    case "IMAGE":
      return { images: req.image?.count ?? 1 };
    case "VIDEO":
      return { seconds: req.video?.durationSeconds ?? 5 };
    case "AUDIO":
      return { seconds: req.audio?.durationSeconds ?? Math.max(1, Math.ceil(estimateTokens(req.prompt ?? "") * 0.3)) };
  }
}

/** True for a model with no known price (discovered, in no price table, not priced in the providers file). */
export const isUnpriced = (model: ModelInfo): boolean => model.pricingSource === "UNPRICED";

/** What a request to `model` reserves: its worst-case cost, or the flat reserve of an unpriced model. */
export function worstCaseCost(req: GenerationRequest, model: ModelInfo): number {
  if (isUnpriced(model)) return model.unpricedReserveMicros ?? 0;
  return costOf(model, worstCaseUsage(req, model));
}

/** What a call cost: by the model's prices; for an unpriced model, what the provider reported (0 when it reports nothing). */
export function costOf(model: ModelInfo, usage: Usage): number {
  if (isUnpriced(model)) return Math.max(0, Math.ceil(usage.reportedCostMicros ?? 0));
  const p = model.pricing;
  const micros =
    ((usage.inputTokens ?? 0) * (p.inputPer1kTokens ?? 0)) / 1000 +
    ((usage.outputTokens ?? 0) * (p.outputPer1kTokens ?? 0)) / 1000 +
    (usage.images ?? 0) * (p.perImage ?? 0) +
    (usage.seconds ?? 0) * (p.perSecond ?? 0);
  return Math.ceil(micros);
}

/**
 * What a provider's batch API charges of its list price: OpenAI's Batch API and Anthropic's
 * Message Batches both bill 50% of the standard input and output token prices.
 */
export const BATCH_PRICE_FACTOR = 0.5;

/** An amount at the batch price (rounded up, as every cost is). */
export const atBatchPrice = (micros: number): number => Math.ceil(micros * BATCH_PRICE_FACTOR);

/** What a call through a provider's batch API cost: {@link costOf} at the batch price (an unpriced model's reported cost as reported). */
export function batchCostOf(model: ModelInfo, usage: Usage): number {
  return isUnpriced(model) ? costOf(model, usage) : atBatchPrice(costOf(model, usage));
}

/** A batch request's worst case: {@link worstCaseCost} at the batch price (an unpriced model's flat reserve unchanged). */
export function batchWorstCaseCost(req: GenerationRequest, model: ModelInfo): number {
  return isUnpriced(model) ? worstCaseCost(req, model) : atBatchPrice(worstCaseCost(req, model));
}
