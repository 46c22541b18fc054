/**
 * `priority: BATCH` through a provider's batch API (OpenAI Batch, Anthropic Message Batches),
 * at its batch price. A BATCH generation is admitted like any other (its reservation at the
 * batch price), then collected into its provider and model's COLLECTING batch instead of the
 * generation queue. The batch is submitted once it holds BATCH_MAX_SIZE generations or its
 * first one has waited BATCH_MAX_WAIT_MS: its members still QUEUED are claimed (RUNNING,
 * STARTED; one cancelled meanwhile is simply left out), the provider gets one batch, and a
 * delayed job polls it every BATCH_POLL_MS. When it ends, each generation finishes from its
 * own line (matched by custom id = generation id): SUCCEEDED at the batch price or FAILED with
 * that line's error, through the runner's Finish (events, webhooks, cache, settlement).
 * Every step is conditional (batch state, each generation's run attempt), so a step re-run
 * after a crash — the sweeper re-enqueues a batch whose job was lost — finishes and charges
 * each generation once. The provider call itself is not conditional: a batch found SUBMITTING
 * again (its submitter died, or its id could not be stored, after the provider accepted it) is
 * first looked up at the provider (earlierSubmission), so it is never created twice.
 */
import { GenerationEntity } from "../../db/entities/generation.entity";
import type { Logger } from "../../observability/logger";
import { ProviderError, type BatchItem, type BatchLine, type GenerationRequest, type Modality, type ModelInfo, type ProviderProbeCall } from "../../providers/contract";
import type { ProviderRegistry } from "../../providers/registry";
import type { KeyPool } from "../providers/key-pool";
import type { GenerationEvents } from "../generations/generation-events";
import type { GenerationStore } from "../generations/generation.store";
import { outputBound } from "../generations/pricing";
import type { Finish } from "../generations/run/finish";
import { classify } from "../generations/run/outcome";
import { validateOutput } from "../generations/run/output-validation";
import { RunEvents } from "../generations/run/run-events";
import { toRequest } from "../generations/run/to-request";
import type { BatchRow, BatchStore, MemberRow } from "./batch.store";

/** Where batch jobs go (jobs/batch-queue.ts). Each call is idempotent by job id. */
export interface BatchScheduler {
  /** Submits the batch after `delayMs` (its collection window). */
  submitLater(batchId: string, delayMs: number): Promise<void>;
  /** Submits it now (full, or recovered); false when such a job already exists. */
  submitNow(batchId: string): Promise<boolean>;
  /** Polls it after `delayMs`; false when its poll job already exists. */
  pollIn(batchId: string, delayMs: number): Promise<boolean>;
}

export interface BatchConfig {
  maxSize: number;
  maxWaitMs: number;
  pollMs: number;
}

export interface BatchServiceDeps {
  store: BatchStore;
  generations: GenerationStore;
  events: GenerationEvents;
  registry: ProviderRegistry;
  keys: KeyPool;
  /** The runner's way of ending a generation (finish.ts): the same events, cache writes and settlement. */
  finish: Finish;
  scheduler: BatchScheduler;
  cfg: BatchConfig;
  log: Logger;
}

/** One provider call of the batch flow (submit, check, results): bounded like a health check. */
const CALL_TIMEOUT_MS = 120_000;
/** How far before the SUBMITTING mark a provider's clock may put an earlier try's batch. */
const CLOCK_SKEW_MS = 10 * 60_000;

/** What a poll asks for next: another poll after `againMs`, or nothing (the batch is over). */
export type PollResult = { againMs?: number };

/** A submission that could not happen now (no key free, a retryable provider error): the job retries it. */
export class BatchRetryError extends Error {}

export class BatchService {
  constructor(private readonly d: BatchServiceDeps) {}

  /** A BATCH generation on this provider goes through its batch API (else it runs as LOW). */
  batchable(providerId: string | null | undefined, modality: Modality): boolean {
    return modality === "TEXT" && !!providerId && !!this.d.registry.provider(providerId)?.batch;
  }

  /** Puts an admitted BATCH generation into its provider and model's collecting batch. */
  async collect(gen: Pick<GenerationEntity, "id" | "provider" | "providerModel">): Promise<void> {
    const { cfg, store, scheduler } = this.d;
    const b = await store.collect(gen.id, gen.provider!, gen.providerModel!, cfg.maxWaitMs);
    if (b.size >= cfg.maxSize || cfg.maxWaitMs === 0) await scheduler.submitNow(b.batchId);
    else if (b.created) await scheduler.submitLater(b.batchId, cfg.maxWaitMs);
  }

  /** A BATCH generation cancelled while its batch still collects: it leaves the batch (its claim would fail anyway). */
  async forget(generationId: string): Promise<void> {
    await this.d.store.leaveCollecting(generationId);
  }

  /** Which of these generations an open batch runs (the sweeper leaves them to it). */
  inOpenBatch(generationIds: string[]): Promise<Set<string>> {
    return this.d.store.inOpenBatch(generationIds);
  }

  /**
   * Submits a collected batch (or re-submits one whose submitter died before the provider's
   * batch id was stored). `lastAttempt`: a retryable failure fails the members instead of
   * asking for another try.
   */
  async submit(batchId: string, lastAttempt: boolean): Promise<void> {
    const { store, registry } = this.d;
    const b = await store.get(batchId);
    if (!b) return;
    // Already SUBMITTING: an earlier try may have created the provider batch and died before storing its id.
    const resumed = b.state === "SUBMITTING";
    if (b.state === "COLLECTING" && !(await store.beginSubmit(batchId))) return;
    if (b.state !== "COLLECTING" && b.state !== "SUBMITTING") return;
    const live = await this.claimMembers(b);
    if (!live.length) return store.end(batchId, "EMPTY");
    const provider = registry.provider(b.provider);
    const model = registry.model(`${b.provider}/${b.providerModel}`);
    if (!provider?.batch || !model) return this.failMembers(b, live, new ProviderError({ provider: b.provider, kind: "invalid_request", message: `${b.provider}/${b.providerModel} has no batch API on this worker` }));
    const items = live.map(({ gen }) => ({ customId: gen.id, request: this.requestOf(gen, model) }));
    let submitted: { batchId: string; state?: Record<string, string>; keyLabel?: string };
    try {
      const ran = await this.d.keys.withKey(provider, { ttlMs: 2 * CALL_TIMEOUT_MS + 60_000 }, async (lease) => {
        const call = () => ({ apiKey: lease?.key, signal: AbortSignal.timeout(CALL_TIMEOUT_MS) });
        const r = (resumed && (await this.earlierSubmission(b, items, call(), lastAttempt))) || (await provider.batch!.submit(items, call(), b.id));
        await lease?.end({ outcome: "ok" });
        return { ...r, keyLabel: lease?.label };
      });
      if (ran.kind !== "ran") throw new ProviderError({ provider: provider.id, kind: ran.kind === "wait" ? "rate_limited" : "auth", retryable: ran.kind === "wait", message: ran.reason });
      submitted = ran.value;
    } catch (e) {
      if (e instanceof BatchRetryError) throw e;
      const err = classify(e, provider.id, false, false);
      if (err.retryable && !lastAttempt) throw new BatchRetryError(err.message);
      return this.failMembers(b, live, err);
    }
    if (!(await store.submitted(batchId, submitted.batchId, submitted.state, submitted.keyLabel))) return;
    this.d.log.info({ batchId, providerBatchId: submitted.batchId, provider: b.provider, model: b.providerModel, size: live.length }, "provider batch submitted");
    await this.d.scheduler.pollIn(batchId, this.d.cfg.pollMs);
  }

  /**
   * Looks the batch up at the provider before submitting it again: the provider batch an earlier
   * try created (found by our batch id in its metadata, or for Anthropic the one recent batch of
   * its size that no other batch of ours holds), or undefined when there is none. Several that
   * cannot be told apart yet (Anthropic, still processing) → another try later, never a second
   * submission; on the last try the members fail rather than risk paying twice.
   */
  private async earlierSubmission(b: BatchRow, items: BatchItem[], call: ProviderProbeCall, lastAttempt: boolean): Promise<{ batchId: string; state?: Record<string, string> } | undefined> {
    const since = new Date(b.updatedAt.getTime() - CLOCK_SKEW_MS);
    const found = await this.d.registry.provider(b.provider)!.batch!.findSubmitted(b.id, items, since, call);
    const held = await this.d.store.heldProviderBatchIds(found.map((f) => f.batchId), b.id);
    const free = found.filter((f) => !held.has(f.batchId));
    const pick = free.find((f) => f.exact) ?? (free.length === 1 ? free[0] : undefined);
    if (pick) {
      this.d.log.warn({ batchId: b.id, providerBatchId: pick.batchId, exact: pick.exact }, "an earlier try had submitted this batch: its provider batch is adopted, not submitted again");
      return { batchId: pick.batchId, state: pick.state };
    }
    if (!free.length) return undefined;
    const message = `${free.length} recent ${b.provider} batches of this size may be this one's earlier submission; it is not submitted again`;
    if (lastAttempt) throw new ProviderError({ provider: b.provider, kind: "unavailable", retryable: false, message });
    throw new BatchRetryError(message);
  }

  /** Checks a submitted batch; when it has ended, finishes every member from its line. */
  async poll(batchId: string): Promise<PollResult> {
    const { store, registry, cfg, log } = this.d;
    const b = await store.get(batchId);
    if (!b || b.state !== "SUBMITTED" || !b.providerBatchId) return {};
    const provider = registry.provider(b.provider);
    const model = registry.model(`${b.provider}/${b.providerModel}`);
    if (!provider?.batch || !model) {
      log.warn({ batchId, provider: b.provider }, "a submitted batch's provider is not configured on this worker; polled again later");
      return { againMs: cfg.pollMs };
    }
    const call = (): ProviderProbeCall => ({ apiKey: this.d.keys.keyFor(b.provider, b.keyLabel ?? undefined), signal: AbortSignal.timeout(CALL_TIMEOUT_MS) });
    const members = (await store.members(batchId)).filter((m) => m.runAttempt !== null && m.attemptNo !== null);
    let lines: BatchLine[];
    try {
      const status = await provider.batch.check(b.providerBatchId, call());
      if (status.state === "pending") {
        await store.touch(batchId);
        return { againMs: cfg.pollMs };
      }
      if (status.state === "failed") {
        await this.failMembers(b, await this.runsOf(members), new ProviderError({ provider: b.provider, kind: "invalid_request", message: `${b.provider} failed the batch: ${status.message ?? status.providerStatus}` }));
        return {};
      }
      const gens = await this.runsOf(members);
      const requests = new Map<string, GenerationRequest>(gens.map(({ gen }) => [gen.id, this.requestOf(gen, model)]));
      lines = await provider.batch.results(b.providerBatchId, status.resultRefs, requests, call());
      await this.finishMembers(b, model, gens, requests, lines);
    } catch (e) {
      const err = classify(e, provider.id, false, false);
      if (!err.retryable) {
        // The batch cannot be read (bad key, gone): its members fail, each once.
        await this.failMembers(b, await this.runsOf(members), err);
        return {};
      }
      log.warn({ err, batchId }, "checking a provider batch failed; polled again later");
      await store.touch(batchId);
      return { againMs: cfg.pollMs };
    }
    await store.end(batchId, "ENDED");
    return {};
  }

  /**
   * The sweeper's part: batches whose job was lost (Redis flushed, the worker that polled them
   * died with it) get one again. Untouched for `graceMs` is the hint; a job that still exists is left alone.
   */
  async recover(graceMs: number, limit = 100): Promise<number> {
    let recovered = 0;
    for (const b of await this.d.store.stale(graceMs, limit)) {
      const added = b.state === "SUBMITTED" ? await this.d.scheduler.pollIn(b.id, 0) : await this.d.scheduler.submitNow(b.id);
      if (added) {
        recovered++;
        this.d.log.warn({ batchId: b.id, state: b.state }, "sweeper re-enqueued a provider batch whose job was lost");
      }
    }
    return recovered;
  }

  /** The members still QUEUED are claimed (RUNNING, STARTED); members claimed by an earlier try keep their run; the rest leave. */
  private async claimMembers(b: BatchRow): Promise<{ gen: GenerationEntity; attemptNo: number }[]> {
    const { store, generations, events } = this.d;
    const members = await store.members(b.id);
    const gone: string[] = [];
    const live: { gen: GenerationEntity; attemptNo: number }[] = [];
    const fresh = members.filter((m) => m.runAttempt === null);
    // Claims made in the same turn go to Postgres as one statement (GenerationStore's batcher).
    const claims = await Promise.all(fresh.map((m) => generations.claim(m.generationId)));
    for (const [i, c] of claims.entries()) {
      if (!c) {
        gone.push(fresh[i].generationId); // cancelled (or expired) before submission: never sent
        continue;
      }
      await store.claimed(c.gen.id, c.gen.runAttempt, c.attemptNo);
      live.push({ gen: c.gen, attemptNo: c.attemptNo });
      await new RunEvents(events, generations, c.gen.id, c.gen.runAttempt, c.seqFloor, c.gen.seqReserved)
        .emit(c.gen, { type: "STARTED", message: `submitted in a ${b.provider} batch (${b.providerModel})` });
    }
    const earlier = await this.runsOf(members.filter((m) => m.runAttempt !== null));
    for (const r of earlier) if (r.gen.status === "RUNNING") live.push(r);
    for (const m of members) if (m.runAttempt !== null && !earlier.some((r) => r.gen.id === m.generationId && r.gen.status === "RUNNING")) gone.push(m.generationId);
    await store.drop(gone);
    return live;
  }

  /** The members' generations as their batch run knows them (its run attempt: a later run of theirs is not overwritten). */
  private async runsOf(members: MemberRow[]): Promise<{ gen: GenerationEntity; attemptNo: number }[]> {
    if (!members.length) return [];
    const rows = new Map((await this.d.generations.findByIds(members.map((m) => m.generationId))).map((g) => [g.id, g]));
    const out: { gen: GenerationEntity; attemptNo: number }[] = [];
    for (const m of members) {
      const g = rows.get(m.generationId);
      if (g && (g.status !== "RUNNING" || g.runAttempt === m.runAttempt)) out.push({ gen: Object.assign(new GenerationEntity(), g, { runAttempt: m.runAttempt! }), attemptNo: m.attemptNo! });
    }
    return out;
  }

  /** Each member ends from its own line: SUCCEEDED at the batch price, or FAILED with that line's error alone. */
  private async finishMembers(b: BatchRow, model: ModelInfo, gens: { gen: GenerationEntity; attemptNo: number }[], requests: Map<string, GenerationRequest>, lines: BatchLine[]): Promise<void> {
    const { finish, generations } = this.d;
    const byId = new Map(lines.map((l) => [l.customId, l]));
    const latencyMs = b.submittedAt ? Math.max(0, Date.now() - b.submittedAt.getTime()) : 0;
    for (const { gen, attemptNo } of gens) {
      const line = byId.get(gen.id);
      if (line && "result" in line) {
        const problem = validateOutput(line.result, requests.get(gen.id)!);
        if (!problem) {
          // Settles (and charges) the attempt even when the generation was cancelled after submission: the provider ran it.
          await finish.succeed(gen, model, attemptNo, line.result, latencyMs, b.keyLabel ?? undefined, { batch: true });
          continue;
        }
        const err = new ProviderError({ provider: b.provider, kind: "bad_response", message: `output validation failed: ${problem}` });
        await generations.settleAttempt({ generationId: gen.id, attemptNo, status: "INVALID", latencyMs, costMicros: 0, error: err, keyLabel: b.keyLabel ?? undefined });
        await finish.fail(gen, err);
        continue;
      }
      const err = line && "error" in line ? line.error : new ProviderError({ provider: b.provider, kind: "bad_response", message: `${b.provider}'s batch ended without a line for this request` });
      await generations.settleAttempt({ generationId: gen.id, attemptNo, status: "FAILED", latencyMs, costMicros: 0, error: err, keyLabel: b.keyLabel ?? undefined });
      await finish.fail(gen, err);
    }
  }

  private async failMembers(b: BatchRow, gens: { gen: GenerationEntity; attemptNo: number }[], err: ProviderError): Promise<void> {
    for (const { gen, attemptNo } of gens) {
      await this.d.generations.settleAttempt({ generationId: gen.id, attemptNo, status: "FAILED", latencyMs: 0, costMicros: 0, error: err });
      await this.d.finish.fail(gen, err);
    }
    await this.d.store.end(b.id, "FAILED", err.message);
  }

  /** The request sent in the batch: with the output bound the reservation was made for (as upstream-call.ts sends it). */
  private requestOf(gen: GenerationEntity, model: ModelInfo): GenerationRequest {
    const req = toRequest(gen);
    if (req.text?.maxTokens === undefined) req.text = { ...req.text, maxTokens: outputBound(req, model) };
    return req;
  }
}
