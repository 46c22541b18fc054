/**
 * A generation as an OpenAI Response object (POST /v1/responses, GET /v1/responses/{id}, cancel,
 * and the `response` field of the stream's lifecycle events). Pure. Ids lead back to the
 * generation: `resp_<generation id>`, its message item `msg_<generation id>`.
 */
import type { StoredOutput } from "../../../db/entities/generation.entity";
import type { GenerationView } from "../../../realtime/generation-event";
import { fromGeneration, openaiErrorBody } from "../errors";
import { servedModel } from "../headers";

export type ResponseStatus = "queued" | "in_progress" | "completed" | "failed" | "cancelled" | "incomplete";

/** What a Response is built from: the generation's view, and (from the row) its finish reason and tool calls. */
export type ResponseSource = Pick<GenerationView, "id" | "status" | "model" | "provider" | "createdAt" | "errorCode" | "errorMessage" | "candidates" | "textOptions"> & {
  output: (Pick<StoredOutput, "text" | "usage"> & Partial<Pick<StoredOutput, "finishReason" | "toolCalls">>) | null;
};

export interface OutputText {
  type: "output_text";
  text: string;
  annotations: [];
  logprobs: [];
}
export interface MessageItem {
  id: string;
  type: "message";
  role: "assistant";
  status: "in_progress" | "completed" | "incomplete";
  content: OutputText[];
}
export interface FunctionCallItem {
  id: string;
  type: "function_call";
  call_id: string;
  name: string;
  arguments: string;
  status: "completed";
}

export interface ResponseObject {
  id: string;
  object: "response";
  created_at: number;
  status: ResponseStatus;
  background: boolean | null;
  model: string;
  output: (MessageItem | FunctionCallItem)[];
  error: { code: string; message: string } | null;
  incomplete_details: { reason: string } | null;
  usage: { input_tokens: number; output_tokens: number; total_tokens: number; input_tokens_details: { cached_tokens: number }; output_tokens_details: { reasoning_tokens: number } } | null;
  text: { format: { type: "text" | "json_object" } };
  parallel_tool_calls: boolean;
  tool_choice: "auto";
  tools: [];
  metadata: Record<string, string>;
}

const PREFIX = "resp_";
export const responseId = (generationId: string): string => `${PREFIX}${generationId}`;
export const messageItemId = (generationId: string): string => `msg_${generationId}`;
/** The generation id inside a Response id (a bare generation id is accepted too). */
export const generationIdOf = (id: string): string => (id.startsWith(PREFIX) ? id.slice(PREFIX.length) : id);

export function statusOf(g: Pick<ResponseSource, "status" | "output">): ResponseStatus {
  switch (g.status) {
    case "QUEUED": return "queued";
    case "RUNNING": return "in_progress";
    case "FAILED": return "failed";
    case "CANCELLED": return "cancelled";
    default: return g.output?.finishReason === "length" ? "incomplete" : "completed";
  }
}

export const outputText = (text: string): OutputText => ({ type: "output_text", text, annotations: [], logprobs: [] });

export function messageItem(generationId: string, text: string, status: MessageItem["status"]): MessageItem {
  return { id: messageItemId(generationId), type: "message", role: "assistant", status, content: status === "in_progress" && !text ? [] : [outputText(text)] };
}

/** Tool calls in OpenAI's chat shape ({ id, function: { name, arguments } }) as function_call items. */
function functionCalls(calls: unknown[] | undefined): FunctionCallItem[] {
  return (calls ?? []).flatMap((c, i) => {
    const call = c as { id?: unknown; function?: { name?: unknown; arguments?: unknown } };
    if (!call?.function || typeof call.function.name !== "string") return [];
    const id = typeof call.id === "string" ? call.id : `call_${i}`;
    const args = typeof call.function.arguments === "string" ? call.function.arguments : JSON.stringify(call.function.arguments ?? {});
    return [{ id: `fc_${id}`, type: "function_call" as const, call_id: id, name: call.function.name, arguments: args, status: "completed" as const }];
  });
}

/**
 * The Response object of a generation.
 *
 * @param background - whether it was created with background: true (echoed, as OpenAI does; the
 *   generation row records it, so a retrieved response knows); null only where a caller cannot tell.
 * @param status - overrides the generation's (the stream's created/in_progress events describe an earlier state).
 */
export function responseObject(g: ResponseSource, background: boolean | null, status: ResponseStatus = statusOf(g)): ResponseObject {
  const done = status === "completed" || status === "incomplete";
  const text = g.output?.text ?? "";
  const output: ResponseObject["output"] = [];
  if (done && (text || !g.output?.toolCalls?.length)) output.push(messageItem(g.id, text, status === "incomplete" ? "incomplete" : "completed"));
  if (done) output.push(...functionCalls(g.output?.toolCalls));
  const u = done ? g.output?.usage : undefined;
  const failed = status === "failed" ? fromGeneration({ status: "FAILED", errorCode: g.errorCode, errorMessage: g.errorMessage }) : null;
  return {
    id: responseId(g.id),
    object: "response",
    created_at: Math.floor(new Date(g.createdAt).getTime() / 1000),
    status,
    background,
    model: g.provider ? servedModel(g) : g.model,
    output,
    error: failed ? { code: openaiErrorBody(failed).error.code, message: failed.message } : null,
    incomplete_details: status === "incomplete" ? { reason: "max_output_tokens" } : null,
    usage: u
      ? { input_tokens: u.inputTokens ?? 0, output_tokens: u.outputTokens ?? 0, total_tokens: (u.inputTokens ?? 0) + (u.outputTokens ?? 0), input_tokens_details: { cached_tokens: 0 }, output_tokens_details: { reasoning_tokens: 0 } }
      : null,
    text: { format: { type: g.textOptions?.responseFormat === "JSON" ? "json_object" : "text" } },
    parallel_tool_calls: true,
    tool_choice: "auto",
    tools: [],
    metadata: {},
  };
}
