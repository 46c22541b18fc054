/**
 * A generation → OpenAI's chat completion objects. Pure.
 * - {@link chatCompletion}: the `chat.completion` of a SUCCEEDED generation (id chatcmpl-<generation id>,
 *   usage from its tokens, finish_reason, tool_calls when the output has them).
 * - {@link chunk}: one `chat.completion.chunk` of a stream.
 */
import type { StoredOutput } from "../../../db/entities/generation.entity";

/** What the completion is built from: the generation's id, times, served model and output. */
export interface CompletedGeneration {
  id: string;
  createdAt: Date;
  /** The public model id that served it. */
  model: string;
  output: Pick<StoredOutput, "text" | "usage" | "finishReason" | "toolCalls"> | null;
}

export const completionId = (generationId: string): string => `chatcmpl-${generationId}`;

const seconds = (d: Date): number => Math.floor(d.getTime() / 1000);

/** Our finish reasons (the providers' words, normalised loosely) → OpenAI's. */
export function finishReason(o: CompletedGeneration["output"]): "stop" | "length" | "tool_calls" | "content_filter" {
  if (o?.toolCalls?.length) return "tool_calls";
  const r = (o?.finishReason ?? "stop").toLowerCase();
  if (r === "length" || r === "max_tokens") return "length";
  if (r === "tool_calls" || r === "tool_use") return "tool_calls";
  if (r === "content_filter") return "content_filter";
  return "stop";
}

/** OpenAI's usage object from our token counts. */
export function usage(o: CompletedGeneration["output"]): { prompt_tokens: number; completion_tokens: number; total_tokens: number } {
  const prompt = o?.usage?.inputTokens ?? 0;
  const completion = o?.usage?.outputTokens ?? 0;
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

/** Tool calls in OpenAI's shape (ours are stored that way by the OpenAI-compatible adapter; others are wrapped). */
export function toolCalls(o: CompletedGeneration["output"]): { id: string; type: "function"; function: { name: string; arguments: string } }[] | undefined {
  if (!o?.toolCalls?.length) return undefined;
  return o.toolCalls.map((raw, i) => {
    const t = (raw ?? {}) as { id?: unknown; function?: { name?: unknown; arguments?: unknown }; name?: unknown; input?: unknown; arguments?: unknown };
    const name = t.function?.name ?? t.name;
    const args = t.function?.arguments ?? t.arguments ?? t.input ?? {};
    return {
      id: typeof t.id === "string" ? t.id : `call_${i}`,
      type: "function" as const,
      function: { name: String(name ?? ""), arguments: typeof args === "string" ? args : JSON.stringify(args) },
    };
  });
}

/** The `chat.completion` object of a SUCCEEDED generation. */
export function chatCompletion(g: CompletedGeneration) {
  const calls = toolCalls(g.output);
  return {
    id: completionId(g.id),
    object: "chat.completion" as const,
    created: seconds(g.createdAt),
    model: g.model,
    choices: [{
      index: 0,
      message: { role: "assistant" as const, content: calls && !g.output?.text ? null : (g.output?.text ?? ""), refusal: null, ...(calls ? { tool_calls: calls } : {}) },
      logprobs: null,
      finish_reason: finishReason(g.output),
    }],
    usage: usage(g.output),
    system_fingerprint: null,
  };
}

/** One `chat.completion.chunk`; `delta` and `finish_reason` for its only choice, or no choices (the usage chunk). */
export function chunk(
  g: Pick<CompletedGeneration, "id" | "createdAt" | "model">,
  choice: { delta: Record<string, unknown>; finish_reason?: string | null } | null,
  extra: Record<string, unknown> = {},
) {
  return {
    id: completionId(g.id),
    object: "chat.completion.chunk" as const,
    created: seconds(g.createdAt),
    model: g.model,
    system_fingerprint: null,
    choices: choice ? [{ index: 0, delta: choice.delta, logprobs: null, finish_reason: choice.finish_reason ?? null }] : [],
    ...extra,
  };
}
