/**
 * POST /v1/embeddings (OpenAI): each input becomes one EMBEDDING generation (source OPENAI),
 * created together so the embedding batcher sends them upstream as one call, each waited for.
 * One failed input fails the request, in OpenAI's error shape, with that generation's headers.
 *
 * A list of inputs is all-or-nothing: when the budget cannot hold every input's reservation the
 * request is refused before any is created; and if one is refused at admission anyway (a
 * concurrent request took the budget meanwhile, a rate limit, a full queue), the ones already
 * created are cancelled (their reservations released) and the refusal is the answer.
 */
import { microsToUsd } from "../../../common/money";
import { QuotaExceededError } from "../../../domain/quotas/quota-exceeded.error";
import type { GenerationView } from "../../../realtime/generation-event";
import { sendJson } from "../../http-utils";
import { readJsonBody } from "../body";
import { fromGeneration, sendV1Error } from "../errors";
import { cancelWhenClientLeaves } from "../client-gone";
import { runToTerminal } from "../generation-call";
import { responseHeaders, servedModel, switchboardOptions } from "../headers";
import type { V1Command } from "../generation-call";
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

/** Refuses (QUOTA_EXCEEDED) a list of inputs whose worst cases together exceed what is left of the budget. */
async function refuseUnlessAllFit(r: V1Request, cmds: V1Command[]): Promise<void> {
  if (cmds.length < 2) return; // one input: admission itself decides
  const needed = cmds.reduce((sum, c) => sum + r.services.generations.estimate({ ...c, source: "OPENAI" }, r.viewer.tier, r.viewer.keyLimits?.allowedModels).costMicros, 0);
  const q = await r.services.quotas.get(r.viewer);
  if (q.spentMicros + q.reservedMicros + needed > q.limitMicros) {
    const left = Math.max(0, q.limitMicros - q.spentMicros - q.reservedMicros);
    throw new QuotaExceededError(q, needed, `These ${cmds.length} inputs may cost up to $${microsToUsd(needed)} together, but only $${microsToUsd(left)} of your $${microsToUsd(q.limitMicros)} budget is left until ${q.periodEnd.toISOString()}; none was created`);
  }
}

/** Per services (one app), per user: the admission of the list being created (see oneListAtATime). */
const admitting = new WeakMap<object, Map<string, Promise<unknown>>>();

/**
 * Checks and admits one user's input lists one at a time in this process: the next list's
 * check sees this one's reservations, so two lists racing for the last of a budget cannot both
 * pass it and then be half-admitted (the one refused would have to cancel inputs that may have
 * run already). Held until every input of the list is admitted or refused, not while they run.
 */
async function oneListAtATime(r: V1Request, cmds: V1Command[]): Promise<GenerationView[]> {
  if (cmds.length < 2) return createAll(r, cmds);
  const byUser = admitting.get(r.services) ?? new Map<string, Promise<unknown>>();
  admitting.set(r.services, byUser);
  const before = byUser.get(r.viewer.userId) ?? Promise.resolve();
  let release!: () => void;
  const mine = new Promise<void>((resolve) => (release = resolve));
  const chain = before.then(() => mine);
  byUser.set(r.viewer.userId, chain);
  try {
    await before;
    await refuseUnlessAllFit(r, cmds);
  } catch (err) {
    release();
    throw err;
  } finally {
    void chain.then(() => byUser.get(r.viewer.userId) === chain && byUser.delete(r.viewer.userId));
  }
  return createAll(r, cmds, release);
}

/**
 * Creates and waits for every input's generation. The first refusal cancels the ones already
 * created (and any admitted after it) and is thrown once they are cancelled: nothing is charged.
 * A client that leaves cancels them all. `admitted` runs once every input is admitted or refused.
 */
async function createAll(r: V1Request, cmds: V1Command[], admitted: () => void = () => undefined): Promise<GenerationView[]> {
  const gone = cancelWhenClientLeaves(r);
  const created = new Set<string>();
  const cancels: Promise<unknown>[] = [];
  let refusal: { err: unknown } | undefined;
  const cancel = (id: string) => void cancels.push(r.services.generations.cancel(r.viewer, id).catch(() => undefined)); // already terminal: nothing to cancel
  const hooks = {
    onAdmitted(id: string) {
      created.add(id);
      gone.onAdmitted(id);
      if (refusal) cancel(id);
    },
  };
  const decided: Promise<unknown>[] = [];
  const runs = cmds.map((cmd) => {
    let decide!: () => void;
    decided.push(new Promise<void>((resolve) => (decide = resolve)));
    const own = { onAdmitted: (id: string) => (hooks.onAdmitted(id), decide()) };
    return runToTerminal(r.services, r.viewer, "OPENAI", cmd, own).then(
      (g) => (decide(), g), // a cache hit is never admitted
      (err: unknown) => {
        decide();
        if (!refusal) {
          refusal = { err };
          for (const id of created) cancel(id);
        }
        throw err;
      },
    );
  });
  void Promise.all(decided).then(admitted);
  const settled = await Promise.allSettled(runs);
  if (refusal) {
    await Promise.all(cancels);
    throw refusal.err;
  }
  return settled.map((s) => (s as PromiseFulfilledResult<GenerationView>).value);
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
  const gens = await oneListAtATime(r, cmds);
  const loaders = r.services.newLoaders(); // one batched read of every generation's attempts
  const attempts = await Promise.all(gens.map(async (g) => (await loaders.attempts.load(g.id)).length));
  const failed = gens.findIndex((g) => g.status !== "SUCCEEDED");
  if (failed >= 0) return sendV1Error(r.res, "openai", fromGeneration(gens[failed]), responseHeaders(gens[failed], attempts[failed]));
  const outcomes = gens.map((g) => ({ embedding: g.output?.embedding ?? [], inputTokens: g.output?.usage?.inputTokens }));
  sendJson(r.res, 200, embeddingsResponse(servedModel(gens[0]), outcomes, request.encodingFormat), combinedHeaders(gens, attempts));
}

export const EMBEDDINGS_ROUTES: V1Route[] = [{ method: "POST", path: "/v1/embeddings", api: "openai", handle: embeddings }];
