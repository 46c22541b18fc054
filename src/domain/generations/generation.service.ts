/**
 * One coherent thing, the request side of generations: create (validate, idempotency, store, enqueue, wait),
 * read, list, cancel. Workers run them through the runner (run/); rows move through GenerationStore.
 */
import { BadUserInputError, ConflictError, ContentPolicyError, NotFoundError, ServiceUnavailableError } from "../../common/errors";
import { isUuid, newId } from "../../common/ids";
import { GenerationEntity, TERMINAL_STATUSES, type StoredModeration } from "../../db/entities/generation.entity";
import type { Logger } from "../../observability/logger";
import type { Metrics } from "../../observability/metrics";
import type { ProviderRegistry } from "../../providers/registry";
import type { GenerationEvents } from "./generation-events";
import { Topic } from "../../realtime/topics";
import { isAdmin, type Viewer } from "../viewer";
import type { CreateGenerationCommand, CreateHooks } from "./create-generation.command";
import { normaliseRequest, type RequestLimits } from "./normalise-request";
import { batchWorstCaseCost, worstCaseUsage } from "./pricing";
import type { GenerationScheduler } from "./scheduler";
import { decodeCursor, encodeCursor, type GenerationFilter, type GenerationPage } from "./generation-page";
import type { AdmitResult, QuotaService } from "../quotas/quota.service";
import { retryTransaction } from "../../common/retry-transaction";
import type { CacheHitResult, CachePlanner } from "../cache/cache-planner";
import type { RateLimits } from "../quotas/rate-limits";
import type { Coalescer } from "../cache/coalescer";
import { bornClaim, type Claim, type GenerationStore } from "./generation.store";
import { terminalWaiter, waitForTerminal } from "./terminal-waiter";
import type { SyncRun } from "./sync-run";
import { requestFingerprint } from "./request-fingerprint";
import type { GenerationRequest } from "../../providers/contract";
import { usdToMicros } from "../../common/money";
import type { Route, Router } from "../routing/router";
import type { Tier } from "../../config/config";
import { countTerminal } from "../monitoring/generation-metrics";
import type { ModerationService } from "../moderation/moderation.service";

/** Cancels an upstream task (video, Replicate) when its generation is cancelled; best effort. */
export interface UpstreamCanceller {
  cancel(gen: GenerationEntity): Promise<void>;
}

/** Where BATCH generations go instead of the queue (BatchService): declared here, so the services do not import each other. */
export interface BatchCollector {
  batchable(providerId: string | null | undefined, modality: GenerationEntity["modality"]): boolean;
  collect(gen: GenerationEntity): Promise<void>;
  forget(generationId: string): Promise<void>;
}

export interface CostEstimateResult {
  /** The most expensive candidate's worst case: what would be reserved. */
  costMicros: number;
  model: string;
  provider: string;
  strategy: string;
  candidates: { model: string; provider: string; costMicros: number; usage: ReturnType<typeof worstCaseUsage> }[];
}

/** Longest `generations(filter: { status })` list: the statuses, with room for harmless repeats. */
const MAX_STATUS_FILTER = 20;

/** What GenerationService is built from (one object: no positional list, no setters). */
export interface GenerationServiceDeps {
  store: GenerationStore;
  registry: ProviderRegistry;
  scheduler: GenerationScheduler;
  bus: GenerationEvents;
  limits: RequestLimits & { maxPageSize: number };
  log: Logger;
  metrics: Metrics;
  quotas: QuotaService;
  cache: CachePlanner;
  rateLimits?: RateLimits;
  coalescer: Coalescer;
  router: Router;
  upstream?: UpstreamCanceller;
  /** Webhooks: checks createGeneration's callbackUrl, throwing BAD_USER_INPUT; without it a callbackUrl is refused. */
  checkCallbackUrl?: (viewer: Viewer, url: string) => Promise<void>;
  /** The fast sync path (SYNC_IN_PROCESS); without it every request is queued. */
  sync?: Pick<SyncRun, "reserve" | "prepare">;
  /** ASYNC_IN_PROCESS: a request that does not wait takes the fast path too (its run starts here; the caller has the QUEUED row). */
  asyncInProcess?: boolean;
  /** Provider batch APIs (`priority: BATCH`, domain/batches/BatchService); without it BATCH runs as LOW. */
  batches?: BatchCollector;
  /** Content safety (MODERATION); without it nothing is classified. */
  moderation?: ModerationService;
}

export class GenerationService {
  constructor(private readonly d: GenerationServiceDeps) {}

  /** Routes the request: candidates in order, the normalised request for the primary. */
  private routeAndNormalise(cmd: CreateGenerationCommand, tier: Tier, allowedModels?: readonly string[] | null): { route: Route; request: GenerationRequest; model: ReturnType<typeof normaliseRequest>["model"] } {
    const caps = [cmd.maxCostUsd, cmd.requirements?.maxCostUsd].filter((x): x is number => x != null);
    if (cmd.requirements?.minQuality != null && (cmd.requirements.minQuality < 0 || cmd.requirements.minQuality > 100))
      throw new BadUserInputError("requirements.minQuality must be between 0 and 100", { field: "requirements.minQuality" });
    if ((cmd.fallbackModels?.length ?? 0) > 10) throw new BadUserInputError("at most 10 fallbackModels", { field: "fallbackModels" });
    // Shape checks first (every field error names its field), then routing against the real request size.
    const probe = this.d.registry.listModels(cmd.modality)[0];
    const pre = normaliseRequest({ ...cmd }, this.d.registry, this.d.limits, probe ?? undefined);
    const route = this.d.router.route(
      { modality: cmd.modality, model: cmd.model, fallbackModels: cmd.fallbackModels, requirements: cmd.requirements, maxCostMicros: caps.length ? usdToMicros(Math.min(...caps)) : null, allowedModels },
      pre.request, tier,
    );
    const { request, model } = normaliseRequest(cmd, this.d.registry, this.d.limits, route.candidates[0].info);
    return { route: this.batchRoute(cmd, route, request), request, model };
  }

  /**
   * `priority: BATCH` on a provider with a batch API: the primary alone (a batch goes to one
   * provider and model; a failed line fails its generation), at the batch price. Elsewhere
   * the route is unchanged and BATCH runs as LOW.
   */
  private batchRoute(cmd: CreateGenerationCommand, route: Route, request: GenerationRequest): Route {
    const primary = route.candidates[0];
    if (cmd.priority !== "BATCH" || !this.d.batches?.batchable(primary.provider, request.modality)) return route;
    const cost = batchWorstCaseCost({ ...request, model: primary.providerModel }, primary.info);
    return { ...route, candidates: [{ ...primary, estimatedCostMicros: cost }], estimatedCostMicros: cost };
  }

  /** Cost estimate without creating anything: the worst case of every candidate (`allowedModels`: the API key's). */
  estimate(cmd: CreateGenerationCommand, tier: Tier, allowedModels?: readonly string[] | null): CostEstimateResult {
    const { route, request } = this.routeAndNormalise(cmd, tier, allowedModels);
    return {
      costMicros: route.estimatedCostMicros, model: route.candidates[0].model, provider: route.candidates[0].provider, strategy: route.strategy,
      candidates: route.candidates.map((c) => ({ model: c.model, provider: c.provider, costMicros: c.estimatedCostMicros, usage: worstCaseUsage({ ...request, model: c.providerModel }, c.info) })),
    };
  }

  async create(viewer: Viewer, cmd: CreateGenerationCommand, hooks?: CreateHooks): Promise<GenerationEntity> {
    const keyLimits = viewer.keyLimits;
    const { route, request, model } = this.routeAndNormalise(cmd, viewer.tier, keyLimits?.allowedModels);
    if (cmd.callbackUrl != null) {
      if (!this.d.checkCallbackUrl) throw new BadUserInputError("callbackUrl is not available on this server", { field: "callbackUrl" });
      await this.d.checkCallbackUrl(viewer, cmd.callbackUrl);
    }
    const idem = cmd.idempotencyKey ?? null;
    const requestHash = idem ? requestFingerprint(cmd, request) : null;
    if (idem) {
      const existing = await this.d.store.findByIdempotencyKey(viewer.userId, idem);
      if (existing) return this.replayed(existing, requestHash, cmd);
    }
    // Through a provider batch: collected, never queued (and never coalesced: a follower's job would run it outside its batch).
    const priority = cmd.priority ?? "NORMAL";
    const batched = priority === "BATCH" && !!this.d.batches?.batchable(model.provider, request.modality);
    // The fast sync path (sync-run.ts): a waiting request (with ASYNC_IN_PROCESS, any request) with a free local slot runs here,
    // not through the queue. Its slot and leases are asked for now, so their Redis round trip is the rate limit's (one
    // auto-pipelined write) and their answer is in when admission starts; held in time, the row is admitted RUNNING (no claim
    // after). Given back if anything below refuses the request, or it turns out a cache hit or a coalesced follower (which has
    // no run of its own).
    const tryFast = !!(cmd.wait || cmd.follow || this.d.asyncInProcess) && !!this.d.sync && !batched;
    const gen = Object.assign(new GenerationEntity(), { id: newId(), userId: viewer.userId, priority, provider: model.provider, groupId: null as string | null });
    let prepared = tryFast ? this.d.sync!.prepare(gen) : null;
    // A follower subscribing to this id (a /v1 stream) while the checks below run; its events wait for it (CreateHooks).
    const subscribed = hooks?.beforeEvents?.(gen.id);
    let moderation: StoredModeration | null;
    let cache: Awaited<ReturnType<CachePlanner["plan"]>>;
    try {
      await this.d.rateLimits?.consume(viewer.userId, viewer.tier, viewer.apiKeyId && keyLimits?.rateLimitPerMinute ? { apiKeyId: viewer.apiKeyId, perMinute: keyLimits.rateLimitPerMinute } : null);
      moderation = await this.moderateInput(request); // throws CONTENT_POLICY before anything exists
      cache = await this.d.cache.plan(viewer.userId, cmd, request, model);
    } catch (err) {
      await prepared?.abandon();
      throw err;
    }
    if (cache.hit) {
      await prepared?.abandon();
      return this.serveHit(viewer, cmd, request, model.id, model.provider, model.name, cache.hit, moderation);
    }
    const now = new Date();
    Object.assign(gen, {
      id: gen.id, userId: viewer.userId, apiKeyId: viewer.apiKeyId, status: "QUEUED", modality: request.modality,
      model: cmd.model, provider: model.provider, providerModel: model.name, prompt: request.prompt ?? null,
      messages: request.messages ?? null, system: request.system ?? null, textOptions: request.text ?? null,
      imageOptions: request.image ?? null, videoOptions: request.video ?? null, audioOptions: request.audio ?? null,
      params: request.params, priority, seed: request.seed ?? null, progress: 0, output: null,
      errorCode: null, errorMessage: null, cached: false, estimatedCostMicros: route.estimatedCostMicros,
      costMicros: null, idempotencyKey: idem, requestHash, runAttempt: 0, createdAt: now, updatedAt: now, startedAt: null, completedAt: null,
      reservedMicros: 0, quotaPeriodStart: null, maxCostMicros: cmd.maxCostUsd != null ? usdToMicros(cmd.maxCostUsd) : null,
      cachePolicy: cmd.cache ?? "AUTO", cacheKey: cache.exactKey, cacheHit: null, semanticScope: cache.semanticScope, groupId: null as string | null,
      deadlineAt: cmd.deadlineSeconds ? new Date(now.getTime() + cmd.deadlineSeconds * 1000) : null,
      candidates: route.candidates.map(({ model: m, provider, providerModel }) => ({ model: m, provider, providerModel })),
      candidateIndex: 0, upstreamTask: null, whenUnavailable: cmd.whenUnavailable ?? "WAIT", callbackUrl: cmd.callbackUrl ?? null,
      seqReserved: 1, // its QUEUED event
      source: cmd.source ?? "GRAPHQL", requestId: viewer.requestId ?? null, background: cmd.background === true,
      moderation, onFlagged: cmd.onFlagged ?? "FAIL",
    } satisfies GenerationEntity);

    if (batched) cache.coalesceKey = null;
    // In-flight coalescing: an identical request already queued or running leads; this one joins it.
    let leader: string | null;
    try {
      leader = cache.coalesceKey ? await this.d.coalescer.lead(cache.coalesceKey, gen.id) : null;
    } catch (err) {
      await prepared?.abandon();
      throw err;
    }
    if (leader) {
      gen.groupId = leader;
      gen.cacheKey = null as string | null; // the leader fills the cache
      gen.semanticScope = null as string | null;
      await prepared?.abandon(); // a follower runs nothing of its own
      prepared = null;
    }
    let admitted: AdmitResult;
    try {
      admitted = await this.d.quotas.admit(gen, keyLimits?.budgetMicros != null, { relaxed: !!(cmd.wait || cmd.follow), born: prepared?.granted });
    } catch (err) {
      await prepared?.abandon();
      throw err;
    }
    if (admitted.kind !== "inserted") await prepared?.abandon();
    if (admitted.kind === "quota" || admitted.kind === "queue_full") {
      if (cache.coalesceKey && !leader) await this.d.coalescer.release(cache.coalesceKey, gen.id); // it led nothing
      throw admitted.error;
    }
    if (admitted.kind === "duplicate" && idem) {
      // Lost an idempotency race: the winner's row is the answer.
      if (cache.coalesceKey && !leader) await this.d.coalescer.release(cache.coalesceKey, gen.id);
      const winner = await this.d.store.getByIdempotencyKey(viewer.userId, idem);
      return this.replayed(winner, requestHash, cmd);
    }
    if (leader && !gen.groupId && cache.coalesceKey) {
      // Its leader had already finished: this one runs on its own and leads from now on.
      gen.cacheKey = cache.exactKey;
      gen.semanticScope = cache.semanticScope;
      await this.d.store.lead(gen.id, gen.cacheKey, gen.semanticScope);
      await this.d.coalescer.takeOver(cache.coalesceKey, gen.id);
    }
    this.d.metrics.generationsCreated.inc({ modality: gen.modality }); hooks?.onAdmitted?.(gen.id); // admitted: its row and reservation exist
    // QUEUED goes out before the job exists (or the in-process claim), so no STARTED can come first (it is always seq 1).
    const publishQueued = () => this.d.bus.publishGenerationEvent(gen, { type: "QUEUED" });
    const queued = subscribed ? () => subscribed.then(publishQueued) : publishQueued;
    // A row admitted RUNNING (the fast path's slot and leases were held in time) is this process's to run: its QUEUED and
    // the run's STARTED go out together, in one auto-pipelined write (QUEUED first: same connection, in order), instead of
    // STARTED a round trip after QUEUED. Either failing is the fast path's QUEUED failing: no call has been made. The run
    // starts meanwhile (Claim.started: its key lease goes out beside them) and makes no call before they are out.
    const claimed = admitted.kind === "inserted" && admitted.running ? bornClaim(admitted.running) : undefined;
    const queuedAndStarted = (c: Claim) => {
      const publishBoth = () => Promise.all([publishQueued(), this.d.bus.publishGenerationEvent(c.gen, { type: "STARTED" }, { floor: c.seqFloor, run: c.gen.runAttempt })]);
      const both = subscribed ? subscribed.then(publishBoth) : publishBoth();
      c.started = both.then(([, seq]) => seq);
      c.started.catch(() => undefined); // the run and the caller await it
      return both;
    };
    // Its QUEUED is published while the slot's leases are taken (one round trip, not two in a row) when they were not
    // taken before admission (a generation that became a leader at admission); awaited on either path.
    const published = tryFast ? (claimed ? queuedAndStarted(claimed) : queued()) : undefined;
    published?.catch(() => undefined); // not unhandled meanwhile: whichever path follows awaits it and sees its error
    const fast = prepared ? ((await prepared.granted) ? prepared : null) : tryFast ? await this.d.sync!.reserve(gen) : null;
    // Subscribe before enqueueing so a fast worker's SUCCEEDED cannot slip past a waiting caller.
    const waiter = cmd.wait && !fast ? await terminalWaiter(this.d.bus, gen.id) : undefined;
    if (fast) return cmd.wait ? fast.run(cmd.wait, () => published!, claimed) : fast.start(() => published!, claimed);
    await (published ?? queued());
    try {
      if (batched) await this.d.batches!.collect(gen);
      // A follower enqueues its group: a no-op while the leader's job lives, a fresh run if it just ended.
      else await this.d.scheduler.enqueue(gen.groupId ?? gen.id, gen.priority, gen.groupId ? undefined : gen.userId);
    } catch (err) {
      // The row is the source of truth: the sweeper enqueues it later. Never lose an accepted generation.
      this.d.log.error({ err, generationId: gen.id, requestId: viewer.requestId }, "enqueue failed; the sweeper will retry");
    }
    if (gen.groupId) {
      await this.d.bus.publish(Topic.GROUP_JOINED, gen.groupId, { generationId: gen.id });
      this.d.metrics.cacheLookups.inc({ kind: "coalesce", outcome: "joined" });
      this.d.cache.countCoalesced();
    }
    if (!waiter) return gen;
    return (await waiter.wait(cmd.wait! * 1000)) ?? (await this.reload(gen.id));
  }

  /**
   * The answer to a replayed idempotency key: the first generation when the request is the same
   * (waited for, if asked), CONFLICT when it differs (Stripe's rule). Rows from before request
   * fingerprints were stored have none and are returned as they are.
   */
  private async replayed(first: GenerationEntity, requestHash: string | null, cmd: CreateGenerationCommand): Promise<GenerationEntity> {
    if (first.requestHash && requestHash && first.requestHash !== requestHash)
      throw new ConflictError(
        "This idempotencyKey was already used with a different request; send the same request to get its generation, or use a new key",
        { field: "idempotencyKey", generationId: first.id },
      );
    return cmd.wait ? this.waitFor(first, cmd.wait) : first;
  }

  /** A cache hit: a SUCCEEDED generation at once, cost 0, its event still published. */
  private async serveHit(
    viewer: Viewer, cmd: CreateGenerationCommand, request: GenerationRequest, route: string, provider: string, providerModel: string, hit: CacheHitResult,
    moderation: StoredModeration | null,
  ): Promise<GenerationEntity> {
    const now = new Date();
    const gen = Object.assign(new GenerationEntity(), {
      id: newId(), userId: viewer.userId, apiKeyId: viewer.apiKeyId, status: "SUCCEEDED", modality: request.modality,
      model: cmd.model, provider, providerModel, prompt: request.prompt ?? null, messages: request.messages ?? null,
      system: request.system ?? null, textOptions: request.text ?? null, imageOptions: request.image ?? null,
      videoOptions: request.video ?? null, audioOptions: request.audio ?? null, params: request.params,
      priority: cmd.priority ?? "NORMAL", seed: request.seed ?? null, progress: 1, output: hit.output, errorCode: null,
      errorMessage: null, cached: true, estimatedCostMicros: 0, costMicros: 0, idempotencyKey: cmd.idempotencyKey ?? null,
      requestHash: cmd.idempotencyKey ? requestFingerprint(cmd, request) : null,
      runAttempt: 0, createdAt: now, updatedAt: now, startedAt: now, completedAt: now, reservedMicros: 0, quotaPeriodStart: null,
      maxCostMicros: null, cachePolicy: cmd.cache ?? "AUTO", cacheKey: null, semanticScope: null,
      cacheHit: { kind: hit.kind, similarity: hit.similarity, sourceGenerationId: hit.sourceGenerationId }, groupId: null, deadlineAt: null,
      candidates: null, candidateIndex: 0, upstreamTask: null, whenUnavailable: "WAIT", callbackUrl: cmd.callbackUrl ?? null,
      seqReserved: 1, // its SUCCEEDED event
      source: cmd.source ?? "GRAPHQL", requestId: viewer.requestId ?? null, background: cmd.background === true,
      moderation, onFlagged: cmd.onFlagged ?? "FAIL",
    } satisfies GenerationEntity);
    if (!(await this.d.store.insertHit(gen)) && gen.idempotencyKey)
      return this.replayed(await this.d.store.getByIdempotencyKey(viewer.userId, gen.idempotencyKey), gen.requestHash, cmd);
    await this.d.bus.publishGenerationEvent(gen, { type: "SUCCEEDED", message: `served from the ${hit.kind.toLowerCase()} cache (${route})` }, { floor: 0 });
    countTerminal(this.d.metrics, gen);
    return gen;
  }

  /** MODERATION=input|both: a flagged request is refused (CONTENT_POLICY) before anything is created or reserved. */
  private async moderateInput(request: GenerationRequest): Promise<StoredModeration | null> {
    const check = this.d.moderation ? await this.d.moderation.checkInput(request) : { kind: "skipped" as const };
    if (check.kind === "skipped") return null;
    if (check.kind === "flagged")
      throw new ContentPolicyError(`Content moderation flagged the request (${check.categories.join(", ")}); nothing was created or charged`, { stage: "INPUT", categories: check.categories, classifier: check.summary.classifier });
    if (check.kind === "unavailable") throw new ServiceUnavailableError(`${check.reason}; nothing was created, retry later`, { retryAfterSeconds: 1, reason: "MODERATION_UNAVAILABLE" });
    return check.summary;
  }

  /** The generation if the viewer may see it; NOT_FOUND otherwise (never reveals others' ids). */
  async get(viewer: Viewer, id: string): Promise<GenerationEntity> {
    if (!isUuid(id)) throw new NotFoundError("Generation", id);
    const g = await this.d.store.findById(id);
    if (!g || (g.userId !== viewer.userId && !isAdmin(viewer))) throw new NotFoundError("Generation", id);
    return g;
  }

  async list(viewer: Viewer, first: number | undefined, after: string | undefined, filter: GenerationFilter = {}): Promise<GenerationPage> {
    const size = first ?? 20;
    if (!Number.isInteger(size) || size < 1 || size > this.d.limits.maxPageSize)
      throw new BadUserInputError(`first must be between 1 and ${this.d.limits.maxPageSize}`, { field: "first" });
    if (filter.userId != null && !isUuid(filter.userId)) throw new BadUserInputError("filter.userId is not a user id", { field: "filter.userId" });
    if (filter.model?.includes("\u0000")) throw new BadUserInputError("filter.model contains a NUL character", { field: "filter.model" });
    // Five statuses exist: a longer list is repeats, and tens of thousands overflow Postgres' bind parameters.
    if ((filter.status?.length ?? 0) > MAX_STATUS_FILTER)
      throw new BadUserInputError(`filter.status lists ${filter.status!.length} values; at most ${MAX_STATUS_FILTER}`, { field: "filter.status" });
    const before = after ? decodeCursor(after) : undefined;
    const rows = await this.d.store.page({
      userId: isAdmin(viewer) ? filter.userId : viewer.userId,
      status: filter.status?.length ? [...new Set(filter.status)] : undefined,
      modality: filter.modality, model: filter.model, createdAfter: filter.createdAfter, createdBefore: filter.createdBefore, before,
    }, size + 1);
    const nodes = rows.slice(0, size);
    const edges = nodes.map((node) => ({ node, cursor: encodeCursor(node) }));
    return { edges, pageInfo: { hasNextPage: rows.length > size, endCursor: edges.at(-1)?.cursor ?? null } };
  }

  async cancel(viewer: Viewer, id: string): Promise<GenerationEntity> {
    const current = await this.get(viewer, id);
    const gen = await retryTransaction(() => this.d.store.cancel(current.id));
    if (!gen) {
      const now = await this.reload(current.id);
      throw new ConflictError(`Generation ${id} is already ${now.status}; there is nothing to cancel`, { status: now.status });
    }
    // Still collected in a provider batch: it leaves it (a batch's submission claims only what is still QUEUED).
    if (current.priority === "BATCH" && current.status === "QUEUED" && this.d.batches)
      await this.d.batches.forget(gen.id).catch((err) => this.d.log.warn({ err, generationId: gen.id }, "leaving its collecting batch failed"));
    // The shared upstream work goes on while anyone else in the group still waits for it.
    const group = gen.groupId ?? gen.id;
    if ((await this.d.store.waitingInGroup(group)) === 0) {
      await this.d.scheduler.remove(group).catch(() => false);
      await this.d.bus.publish(Topic.CANCEL_GENERATION, undefined, { generationId: group });
      // An upstream task (video) keeps running (and billing) unless it is stopped too.
      if (current.upstreamTask && this.d.upstream)
        await this.d.upstream.cancel(current).catch((err) => this.d.log.warn({ err, generationId: gen.id }, "cancelling the upstream task failed"));
    } else if (!gen.groupId && current.status === "QUEUED" && !current.startedAt) {
      await this.promoteFollower(gen);
    }
    await this.d.bus.publishGenerationEvent(gen, { type: "CANCELLED" });
    this.d.quotas.changed(gen.userId, false);
    countTerminal(this.d.metrics, gen);
    return gen;
  }

  /** A leader cancelled before it ran: its oldest follower leads the group and runs instead. */
  private async promoteFollower(leader: GenerationEntity): Promise<void> {
    const next = await this.d.store.promoteHeir(leader.id);
    if (!next) return;
    await this.d.scheduler.remove(leader.id).catch(() => false);
    await this.d.scheduler.enqueue(next.id, next.priority);
    if (leader.cacheKey) await this.d.coalescer.takeOver(leader.cacheKey, next.id);
  }

  /** How many attempts (upstream calls, skipped candidates included) a generation made; for an id the caller already read through {@link get}. */
  attemptCount(generationId: string): Promise<number> {
    return this.d.store.attemptCount(generationId);
  }

  /** The job ids to wake when an async provider reports that this upstream task finished (provider webhooks). */
  jobsAwaitingUpstreamTask(provider: string, taskId: string): Promise<string[]> {
    return this.d.store.jobsAwaitingUpstreamTask(provider, taskId);
  }

  private reload(id: string): Promise<GenerationEntity> {
    return this.d.store.getById(id);
  }

  private async waitFor(gen: GenerationEntity, seconds: number): Promise<GenerationEntity> {
    if (TERMINAL_STATUSES.includes(gen.status)) return gen;
    return waitForTerminal(this.d.bus, (id) => this.reload(id), gen.id, seconds * 1000);
  }
}
