/**
 * What content moderation reads, per modality and stage, pluggable like the output validators
 * (generations/run/output-validation.ts): an extractor returns the texts to classify. Inputs:
 * the system prompt, the prompt and every text part of every message, for any modality (a video
 * prompt is judged like a chat). Outputs: TEXT answers and their tool calls' arguments. Media and
 * embeddings have no output extractor (no classifier for pixels or vectors here): register one
 * — e.g. an image classifier's caption — and it is checked like text.
 */
import type { GenerationRequest, GenerationResult, Modality } from "../../providers/contract";

export type InputTexts = (req: GenerationRequest) => string[];
export type OutputTexts = (result: GenerationResult, req: GenerationRequest) => string[];

const inputs = new Map<Modality, InputTexts[]>();
const outputs = new Map<Modality, OutputTexts[]>();

/** Adds an input extractor for a modality (every registered one contributes). */
export function registerInputTexts(modality: Modality, fn: InputTexts): void {
  inputs.set(modality, [...(inputs.get(modality) ?? []), fn]);
}

/** Adds an output extractor for a modality (every registered one contributes). */
export function registerOutputTexts(modality: Modality, fn: OutputTexts): void {
  outputs.set(modality, [...(outputs.get(modality) ?? []), fn]);
}

const nonEmpty = (xs: string[]): string[] => xs.filter((x) => x.trim().length > 0);

/** The request's texts to classify at admission (empty: nothing to check). */
export function inputTexts(req: GenerationRequest): string[] {
  return nonEmpty((inputs.get(req.modality) ?? []).flatMap((fn) => fn(req)));
}

/** An attempt's output texts to classify before it may succeed (empty: nothing to check). */
export function outputTexts(result: GenerationResult, req: GenerationRequest): string[] {
  return nonEmpty((outputs.get(req.modality) ?? []).flatMap((fn) => fn(result, req)));
}

const requestTexts: InputTexts = (req) => [
  req.system ?? "",
  req.prompt ?? "",
  ...(req.messages ?? []).flatMap((m) => m.content.flatMap((p) => (p.type === "text" ? [p.text] : []))),
];
for (const modality of ["TEXT", "IMAGE", "VIDEO", "AUDIO", "EMBEDDING"] as const) registerInputTexts(modality, requestTexts);

registerOutputTexts("TEXT", (r) => [
  r.text ?? "",
  ...(r.toolCalls ?? []).map((c) => {
    const fn = (c as { function?: { arguments?: unknown } }).function;
    return typeof fn?.arguments === "string" ? fn.arguments : "";
  }),
]);
