/**
 * POST /v1/embeddings as our EMBEDDING generations, and back: one generation per input string
 * (the domain embeds one text per generation; the embedding batcher sends a request's inputs
 * upstream as one call). Pure: every problem is a BadUserInputError naming the OpenAI param.
 */
import { BadUserInputError } from "../../../common/errors";
import type { CreateGenerationCommand } from "../../../domain/generations/create-generation.command";

/** Most inputs in one request: each is a generation (OpenAI allows 2048; we hold each as a row). */
export const MAX_EMBEDDING_INPUTS = 256;

export interface EmbeddingsRequest {
  model: string;
  inputs: string[];
  encodingFormat: "float" | "base64";
  /** Passed to the provider as `params.dimensions` (OpenAI's text-embedding-3 models shorten vectors). */
  dimensions?: number;
}

const bad = (param: string, message: string): never => {
  throw new BadUserInputError(message, { field: param });
};

function inputsOf(input: unknown): string[] {
  if (typeof input === "string") return [input];
  if (!Array.isArray(input) || !input.length) return bad("input", "input must be a string or a non-empty array of strings");
  if (input.every((x) => typeof x === "string")) return input;
  // Token arrays (number[] or number[][]) need the model's tokenizer, which only the upstream has.
  if (input.every((x) => typeof x === "number" || Array.isArray(x)))
    return bad("input", "token arrays are not supported: send the text as a string or an array of strings");
  return bad("input", "input must be a string or an array of strings");
}

export function parseEmbeddingsRequest(body: unknown): EmbeddingsRequest {
  if (!body || typeof body !== "object" || Array.isArray(body)) return bad("", "the request body must be a JSON object");
  const b = body as Record<string, unknown>;
  if (typeof b.model !== "string" || !b.model) return bad("model", "model is required: a catalog id (GET /v1/models), an alias or auto");
  const inputs = inputsOf(b.input);
  if (inputs.length > MAX_EMBEDDING_INPUTS) bad("input", `at most ${MAX_EMBEDDING_INPUTS} inputs in one request; got ${inputs.length}`);
  const empty = inputs.findIndex((s) => !s.trim());
  if (empty >= 0) bad("input", inputs.length === 1 ? "input must not be empty" : `input[${empty}] must not be empty`);
  const format = b.encoding_format ?? "float";
  if (format !== "float" && format !== "base64") bad("encoding_format", 'encoding_format must be "float" or "base64"');
  if (b.dimensions != null && (!Number.isInteger(b.dimensions) || (b.dimensions as number) < 1))
    bad("dimensions", "dimensions must be a positive integer");
  return { model: b.model, inputs, encodingFormat: format as "float" | "base64", ...(b.dimensions != null ? { dimensions: b.dimensions as number } : {}) };
}

/** One command per input, in input order. */
export function embeddingCommands(r: EmbeddingsRequest): CreateGenerationCommand[] {
  return r.inputs.map((prompt) => ({
    modality: "EMBEDDING", model: r.model, prompt, ...(r.dimensions != null ? { params: { dimensions: r.dimensions } } : {}),
  }));
}

/** Little-endian float32 bytes, base64: what OpenAI sends for `encoding_format: "base64"`. */
export function float32Base64(v: readonly number[]): string {
  const buf = Buffer.alloc(v.length * 4);
  v.forEach((x, i) => buf.writeFloatLE(x, i * 4));
  return buf.toString("base64");
}

export interface EmbeddingOutcome {
  embedding: number[];
  inputTokens?: number;
}

/**
 * The OpenAI answer. Float vectors are rounded to float32 (OpenAI's own precision), so the float
 * and base64 answers decode to the same numbers.
 */
export function embeddingsResponse(model: string, outcomes: EmbeddingOutcome[], format: "float" | "base64") {
  const tokens = outcomes.reduce((n, o) => n + (o.inputTokens ?? 0), 0);
  return {
    object: "list" as const,
    data: outcomes.map((o, index) => ({
      object: "embedding" as const, index, embedding: format === "base64" ? float32Base64(o.embedding) : o.embedding.map(Math.fround),
    })),
    model,
    usage: { prompt_tokens: tokens, total_tokens: tokens },
  };
}
