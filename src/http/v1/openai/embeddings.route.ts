/**
 * POST /v1/embeddings (OpenAI): each input becomes one EMBEDDING generation (source OPENAI),
 * created together so the embedding batcher sends them upstream as one call, each waited for.
 * One failed input fails the request, in OpenAI's error shape, with that generation's headers.
 */
import { microsToUsd } from "../../../common/money";
import type { GenerationView } from "../../../realtime/generation-event";
import { sendJson } from "../../http-utils";
import { readJsonBody } from "../body";
import { fromGeneration, sendV1Error } from "../errors";
import { runToTerminal } from "../generation-call";
import { responseHeaders, servedModel, switchboardOptions } from "../headers";
import type { V1Request, V1Route } from "../route";
import { embeddingCommands, embeddingsResponse, parseEmbeddingsRequest } from "./embeddings.mapping";

/**
 * The response headers of several generations: their ids comma-separated (input order), the
 * summed cost and attempts, the cache status when they share one (else MIXED).
 */
export function combinedHeaders(gens: GenerationView[], attempts: number[]): Record<string, string> {
  const each = gens.map((g, i) => responseHeaders(g, attempts[i]));
  if (each.length === 1) return each[0];
  const h: Record<string, string> = { ...each[0], "x-switchboard-generation-id": gens.map((g) => g.id).join(",") };
  const caches = new Set(each.map((x) => x["x-switchboard-cache"]));
  h["x-switchboard-cache"] = caches.size === 1 ? [...caches][0] : "MIXED";
  h["x-switchboard-attempts"] = String(attempts.reduce((a, b) => a + b, 0));
  if (gens.every((g) => g.costMicros != null)) h["x-switchboard-cost-usd"] = String(microsToUsd(gens.reduce((sum, g) => sum + g.costMicros!, 0)));
  else delete h["x-switchboard-cost-usd"]; // the first's alone would understate it
  return h;
}

async function embeddings(r: V1Request): Promise<void> {
  const body = await readJsonBody(r.req, r.config.http.bodyLimitBytes);
  const request = parseEmbeddingsRequest(body);
  const options = switchboardOptions(r.req, body);
  const key = options.idempotencyKey;
  const cmds = embeddingCommands(request).map((c, i, all) => ({
    ...c, ...options,
    // One key names the whole request: each input's generation gets its own under it.
    ...(key && all.length > 1 ? { idempotencyKey: `${key}:${i}` } : {}),
  }));
  const gens = await Promise.all(cmds.map((cmd) => runToTerminal(r.services, r.viewer, "OPENAI", cmd)));
  const loaders = r.services.newLoaders(); // one batched read of every generation's attempts
  const attempts = await Promise.all(gens.map(async (g) => (await loaders.attempts.load(g.id)).length));
  const failed = gens.findIndex((g) => g.status !== "SUCCEEDED");
  if (failed >= 0) return sendV1Error(r.res, "openai", fromGeneration(gens[failed]), responseHeaders(gens[failed], attempts[failed]));
  const outcomes = gens.map((g) => ({ embedding: g.output?.embedding ?? [], inputTokens: g.output?.usage?.inputTokens }));
  sendJson(r.res, 200, embeddingsResponse(servedModel(gens[0]), outcomes, request.encodingFormat), combinedHeaders(gens, attempts));
}

export const EMBEDDINGS_ROUTES: V1Route[] = [{ method: "POST", path: "/v1/embeddings", api: "openai", handle: embeddings }];
