/**
 * A text-generation answer: stream events (OpenAI completion chunks from /v1/completions, or
 * TGI's native token events) or one non-streamed completion, as our result.
 */
import type { GenerationResult } from "../contract";
import { incompleteStream, scrub } from "../shared/errors";
import { estimateTokens } from "../shared/tokens";

type Body = Record<string, unknown>;

/** TGI's finish reasons in the vocabulary the other adapters report. */
const FINISH: Record<string, string> = { eos_token: "stop", stop_sequence: "stop", length: "length", stop: "stop" };

type Usage = { prompt_tokens?: unknown; completion_tokens?: unknown };

const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : undefined);

export class TextStream {
  text = "";
  emittedAny = false;
  private finish: string | undefined;
  private usage: Usage | undefined;
  private generatedTokens: number | undefined;

  constructor(private readonly onDelta: (delta: string) => void) {}

  private emit(piece: string): void {
    if (!piece) return;
    this.text += piece;
    this.emittedAny = true;
    this.onDelta(piece);
  }

  /** One stream event; a SyntaxError (bad_response) for an event of neither kind. */
  push(chunk: Body): void {
    let piece = "";
    if (Array.isArray(chunk.choices)) {
      // OpenAI completion chunk (what /v1/completions streams).
      const choice = (chunk.choices as Body[]).find((c) => (c.index ?? 0) === 0);
      if (typeof choice?.text === "string") piece = choice.text;
      if (typeof choice?.finish_reason === "string" && choice.finish_reason) this.finish = choice.finish_reason;
      if (chunk.usage && typeof chunk.usage === "object") this.usage = chunk.usage as Usage;
    } else if (chunk.token && typeof chunk.token === "object") {
      // TGI token event; the last one carries generated_text and details.
      const token = chunk.token as Body;
      if (!token.special && typeof token.text === "string") piece = token.text;
      if (typeof chunk.generated_text === "string") {
        const details = (chunk.details ?? {}) as Body;
        this.finish = typeof details.finish_reason === "string" ? details.finish_reason : "stop";
        if (typeof details.generated_tokens === "number") this.generatedTokens = details.generated_tokens;
      }
    } else {
      throw new SyntaxError(`unexpected stream event ${scrub(JSON.stringify(chunk)).slice(0, 120)}`);
    }
    this.emit(piece);
  }

  /** A non-streamed answer: the SDK's generated_text, and the full completion body (finish_reason, usage) when kept. */
  whole(generatedText: unknown, full: Body | undefined): void {
    const choice = Array.isArray(full?.choices) ? (full.choices[0] as Body | undefined) : undefined;
    this.finish = typeof choice?.finish_reason === "string" ? choice.finish_reason : "stop";
    if (full?.usage && typeof full.usage === "object") this.usage = full.usage as Usage;
    this.text = "";
    this.emit(typeof generatedText === "string" ? generatedText : "");
  }

  /** The answer; a stream that ended without a finish_reason / generated_text is a (partial) failure. */
  result(provider: string, prompt: string): GenerationResult {
    if (!this.finish) throw incompleteStream(provider, this.emittedAny, "finish_reason");
    const text = this.text;
    return {
      text,
      usage: {
        inputTokens: num(this.usage?.prompt_tokens) ?? estimateTokens(prompt),
        outputTokens: num(this.usage?.completion_tokens) ?? this.generatedTokens ?? (text ? estimateTokens(text) : 0),
      },
      finishReason: FINISH[this.finish] ?? this.finish,
    };
  }
}
