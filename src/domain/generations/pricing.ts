/** Cost estimates and actual costs, in integer micro-USD. */
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

export const DEFAULT_MAX_OUTPUT_TOKENS = 1024;

/** Worst-case usage of a request: what a budget reservation must cover. */
export function worstCaseUsage(req: GenerationRequest, model: ModelInfo): Usage {
  switch (req.modality) {
    case "TEXT":
      return {
        inputTokens: estimateTokens(inputText(req)),
        outputTokens: req.text?.maxTokens ?? model.maxOutputTokens ?? DEFAULT_MAX_OUTPUT_TOKENS,
      };
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

export function costOf(model: ModelInfo, usage: Usage): number {
  const p = model.pricing;
  const micros =
    ((usage.inputTokens ?? 0) * (p.inputPer1kTokens ?? 0)) / 1000 +
    ((usage.outputTokens ?? 0) * (p.outputPer1kTokens ?? 0)) / 1000 +
    (usage.images ?? 0) * (p.perImage ?? 0) +
    (usage.seconds ?? 0) * (p.perSecond ?? 0);
  return Math.ceil(micros);
}
