/** OpenAI's /v1/moderations answer → one verdict per input (pure). */
import type OpenAI from "openai";
import { ProviderError, type ModerationVerdict } from "../contract";

/**
 * The verdicts of a moderation answer, in input order. A category counts when OpenAI set its
 * boolean (`categories[name] === true`); the scores are passed on as they are.
 */
export function moderationVerdicts(provider: string, res: OpenAI.ModerationCreateResponse, inputs: number): ModerationVerdict[] {
  const results = (res as { results?: unknown }).results;
  if (!Array.isArray(results) || results.length !== inputs)
    throw new ProviderError({ provider, kind: "bad_response", message: `${provider}: the moderation answer has ${Array.isArray(results) ? results.length : "no"} results for ${inputs} inputs` });
  return results.map((r: Partial<OpenAI.Moderation>) => {
    const categories = Object.entries(r.categories ?? {}).filter(([, on]) => on === true).map(([name]) => name).sort();
    const scores = Object.fromEntries(Object.entries(r.category_scores ?? {}).filter(([, v]) => typeof v === "number")) as Record<string, number>;
    // `flagged` is OpenAI's own verdict; a flagged result without a category still says which: "flagged".
    const flagged = r.flagged === true || categories.length > 0;
    return { flagged, categories: flagged && !categories.length ? ["flagged"] : categories, scores };
  });
}
