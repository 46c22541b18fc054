/**
 * The worker side of a generation: claim it, call the provider with a timeout and an
 * AbortSignal, stream deltas and progress out as events, store the output, settle.
 * Every state change is conditional on (status, run_attempt), so a duplicate or stale
 * job can never complete a generation twice or overwrite a newer state.
 */
import type { DataSource } from "typeorm";
import { GenerationEntity, type StoredOutput } from "../../db/entities/generation.entity";
import { rowToEntity } from "../../db/row-mapper";
import type { Logger } from "../../observability/logger";
import type { Metrics } from "../../observability/metrics";
import { ProviderError, type GenerationProvider, type GenerationRequest, type GenerationResult, type ModelInfo } from "../../providers/contract";
import type { ProviderRegistry } from "../../providers/registry";
import type { EventBus } from "../../realtime/event-bus";
import type { BlobStore } from "../../storage/blob-store";
import { DeltaBuffer } from "./delta-buffer";
import { GenerationStore, type Claim } from "./generation.store";
import { RunEvents } from "./run-events";
import type { QuotaService } from "../quotas/quota.service";
import type { ExactCacheService } from "../cache/exact-cache.service";
import type { SemanticCacheService } from "../cache/semantic-cache.service";
import type { Coalescer } from "../cache/coalescer";
import { finishFollowers, Followers, promoteHeir, type GroupOutcome } from "./coalesced-group";
import { CHARGE_CTES, RELEASE_AND_SELECT } from "../quotas/release.sql";
import { costOf, worstCaseUsage } from "./pricing";
import { isPending, type GenerateOutcome, type PendingTask, type ProviderCall } from "../../providers/contract";
import type { Candidate, UpstreamTask } from "../../db/entities/generation.entity";
import type { Acquired, KeyOutcome, KeyPool } from "../providers/key-pool";
import type { EmbeddingBatcher } from "./embedding-batcher";
import { validateOutput } from "./output-validation";
import { verdictOf, type CallVerdict, type CircuitBreakers, type Gate } from "../resilience/circuit-breaker";
import type { KeyLimits } from "../providers/key-limits";
import { countTerminal, countTokens, firstTokenTimer } from "../monitoring/generation-metrics";
import type { UpstreamCanceller } from "./generation.service";
import type { EventInit, PublishOptions } from "../../realtime/event-bus";

export interface RunJob {
  generationId: string;
  /** No retry follows a retryable failure on the last attempt: it fails the generation. */
  isLastAttempt: boolean;
}

export type RunOutcome =
  | { kind: "finished"; status: "SUCCEEDED" | "FAILED" }
  | { kind: "skipped"; reason: string }
  | { kind: "retry"; delayMs?: number; error: ProviderError; maxDelayMs?: number }
  /** This process is shutting down: the job goes back to the queue for another worker. */
  | { kind: "handback" }
  /** Every key is cooling down: the job waits in delayed (no retry used up). */
  | { kind: "delay"; delayMs: number }
  /** An upstream task is running: a delayed job re-checks it (no worker slot held meanwhile). */
  | { kind: "recheck"; delayMs: number };

type CallOutcome =
  | { kind: "done"; result: RunOutcome }
  | { kind: "error"; err: ProviderError; otherKeys: boolean }
  | { kind: "wait"; err: ProviderError; delayMs: number; reason: string };

/** Calls (fallbacks, other keys) one run may make before it hands over to the job's backoff. */
const MAX_CALLS_PER_RUN = 8;

function keyOutcome(err: ProviderError): KeyOutcome {
  if (err.kind === "rate_limited") return "rate_limited";
  if (err.kind === "auth") return "auth";
  if (err.kind === "cancelled") return "cancelled";
  return err.kind === "invalid_request" || err.kind === "content_policy" ? "ok" : "error";
}

export interface RunnerConfig {
  providerTimeoutMs: number;
  /** "<modality>", "<provider>" or "<provider>:<modality>" → ms (most specific wins). */
  timeouts?: Record<string, number>;
  deltaCoalesceMs: number;
  /**
   * Fault injection for crash tests (FAULT_EXIT_AFTER_TERMINAL_COMMIT): the process kills itself
   * (SIGKILL) right after committing a simulated-provider generation's SUCCEEDED, before publishing it.
   */
  faultExitAfterTerminalCommit?: boolean;
}

const EXT: Record<string, string> = { "image/png": "png", "image/gif": "gif", "audio/wav": "wav", "video/mp4": "mp4", "image/jpeg": "jpg", "image/webp": "webp", "audio/mpeg": "mp3" };

const SHUTDOWN = Symbol("shutdown");

export const errorCode = (kind: string): string =>
  ({ unavailable: "PROVIDER_UNAVAILABLE", auth: "PROVIDER_AUTH" } as Record<string, string>)[kind] ?? kind.toUpperCase();

export class GenerationRunner {
  private readonly active = new Map<string, AbortController>();
  /** The event stream of each run in this process, by generation id. */
  private readonly streams = new Map<string, RunEvents>();
  private readonly store: GenerationStore;

  constructor(
    private readonly ds: DataSource,
    private readonly registry: ProviderRegistry,
    private readonly bus: EventBus,
    private readonly blobs: BlobStore,
    private readonly cfg: RunnerConfig,
    private readonly log: Logger,
    private readonly metrics: Metrics,
    private readonly quotas: QuotaService,
    private readonly cache?: { exact: ExactCacheService; semantic: SemanticCacheService; coalescer: Coalescer },
    private readonly keys?: KeyPool,
    private readonly batcher?: EmbeddingBatcher,
    private readonly upstream?: UpstreamCanceller,
    private readonly breakers?: CircuitBreakers,
    private readonly keyLimits?: KeyLimits,
  ) {
    this.store = new GenerationStore(ds);
  }

  /** Aborts a generation running in this process (cancel broadcast). */
  abort(generationId: string): boolean {
    const c = this.active.get(generationId);
    c?.abort(new ProviderError({ provider: "switchboard", kind: "cancelled", message: "cancelled" }));
    return !!c;
  }

  /** Shutdown: abort every run in this process and hand its job back to the queue. */
  abortAll(): number {
    for (const c of this.active.values()) c.abort(SHUTDOWN);
    return this.active.size;
  }

  get activeCount(): number {
    return this.active.size;
  }

  async run(job: RunJob): Promise<RunOutcome> {
    const ctrl = new AbortController();
    this.active.set(job.generationId, ctrl); // before the claim: a cancel racing the claim is not missed
    let heirId: string | undefined;
    let mine: RunEvents | undefined;
    try {
      let claimed = await this.store.claim(job.generationId);
      if (!claimed && this.cache) {
        // The leader is gone but identical requests still wait on it: the oldest leads now.
        const heir = await promoteHeir(this.ds, job.generationId);
        if (heir) {
          this.active.set(heir.id, ctrl);
          heirId = heir.id;
          claimed = await this.store.claim(heir.id);
        }
      }
      if (!claimed) {
        await this.repairTerminalEvent(job.generationId);
        return { kind: "skipped", reason: "not QUEUED or RUNNING" };
      }
      mine = new RunEvents(this.bus, this.store, claimed.gen.id, claimed.gen.runAttempt, claimed.seqFloor, claimed.gen.seqReserved);
      this.streams.set(claimed.gen.id, mine);
      return await this.execute(claimed, ctrl, job);
    } finally {
      if (this.active.get(job.generationId) === ctrl) this.active.delete(job.generationId);
      // Only this run's stream: a later run of the same generation in this process keeps its own.
      if (this.streams.get(job.generationId) === mine) this.streams.delete(job.generationId);
      if (heirId) {
        if (this.active.get(heirId) === ctrl) this.active.delete(heirId);
        if (this.streams.get(heirId) === mine) this.streams.delete(heirId);
      }
    }
  }

  /**
   * A job for a generation that is already terminal: the process that committed that state may
   * have died before publishing it (then its stream is still open). Publish it now.
   */
  private async repairTerminalEvent(generationId: string): Promise<void> {
    try {
      const done = await this.store.terminal(generationId);
      if (done && (await this.bus.republishTerminal(done))) this.log.warn({ generationId, status: done.status }, "published a terminal event its run never published");
    } catch (err) {
      this.log.warn({ err, generationId }, "checking a terminal generation's event failed");
    }
  }

  /** Publishes an event of a run in this process with the seq it knows (any other event goes out as is). */
  private emit(g: GenerationEntity, ev: EventInit, opts?: Omit<PublishOptions, "floor">): Promise<number> {
    // A run superseded in this very process (its job was re-claimed here) must not speak through the new run's stream:
    // it publishes fenced by its own run attempt, so its late events are dropped.
    const s = this.streams.get(g.id);
    if (s && s.runAttempt === g.runAttempt) return s.emit(g, ev, opts);
    return this.bus.publishGenerationEvent(g, ev, { ...opts, run: g.runAttempt });
  }

  private async execute({ gen, attemptNo, takenOver }: Claim, ctrl: AbortController, job: RunJob): Promise<RunOutcome> {
    if (deadlinePassed(gen)) {
      const err = deadlineError(gen.provider ?? "?");
      await this.settleAttempt(gen.id, attemptNo, "CANCELLED", 0, 0, err);
      if (gen.upstreamTask) await this.cancelUpstream(gen);
      return this.fail(gen, err, false, "DEADLINE_EXCEEDED");
    }
    if (!gen.upstreamTask && attemptNo > 1 && !(await this.quotas.extend(gen, attemptNo))) return this.overBudget(gen, attemptNo);
    if (gen.runAttempt === 1) this.metrics.queueWait.observe({ priority: gen.priority }, (Date.now() - gen.createdAt.getTime()) / 1000);
    if (!gen.upstreamTask) {
      // A run taken over from a worker that died mid-stream discards what it streamed, as a hand-back does;
      // any later run does so too if text from an earlier one was left without a RESTARTED.
      if (takenOver) await this.emit(gen, { type: "RESTARTED", message: "the worker running it stopped; partial output discarded, it streams afresh" });
      else if (gen.runAttempt > 1) await this.emit(gen, { type: "RESTARTED", message: "a new run streams afresh; partial output discarded" }, { onlyIfText: true });
      await this.emit(gen, { type: "STARTED" });
    }
    // Only a request that can be coalesced (it has a cache key) can have followers.
    const followers = gen.cacheKey && this.cache ? await Followers.start(this.ds, this.bus, gen) : null;
    try {
      return await this.runCandidates(gen, attemptNo, ctrl, job, followers);
    } finally {
      followers?.close();
    }
  }

  /**
   * Calls the current candidate; a retryable failure falls through to the next one (FALLBACK)
   * within this run, a rate-limited key to another key; when the list is exhausted the job
   * retries with backoff from the first candidate. Every call is an attempt row.
   */
  private async runCandidates(gen: GenerationEntity, attemptNo: number, ctrl: AbortController, job: RunJob, followers: Followers | null): Promise<RunOutcome> {
    const candidates: Candidate[] = gen.candidates?.length
      ? gen.candidates
      : [{ model: `${gen.provider}/${gen.providerModel}`, provider: gen.provider ?? "?", providerModel: gen.providerModel ?? "?" }];
    let idx = Math.min(gen.candidateIndex ?? 0, candidates.length - 1);
    let allOpen = true;
    let earliestProbe = Infinity;
    /** Keys that already failed in this run, per provider: another key is tried first. */
    const triedKeys = new Map<string, Set<string>>();
    for (let calls = 0; ; calls++) {
      const cand = candidates[idx];
      const provider = this.registry.provider(cand.provider);
      const model = this.registry.model(cand.model);
      let outcome: CallOutcome;
      // A pending task is re-checked whatever its circuit says: the call that started it was admitted.
      const gate = provider && model && this.breakers && !gen.upstreamTask ? await this.breakers.allow(provider.id, model.name) : undefined;
      let skippedOpen = false;
      if (!provider || !model) {
        const err = new ProviderError({ provider: cand.provider, kind: "invalid_request", retryable: true, message: `model ${cand.model} is not configured on this worker` });
        await this.settleAttempt(gen.id, attemptNo, "FAILED", 0, 0, err);
        outcome = { kind: "error", err, otherKeys: false };
        allOpen = false;
      } else if (gate && !gate.allowed) {
        // Skipped without an upstream call: its attempt slot moves to the next candidate (or ends SKIPPED).
        const err = new ProviderError({
          provider: provider.id, kind: "circuit_open" as never, retryable: true,
          message: `circuit ${gate.circuit} is OPEN; next probe at ${new Date(gate.nextProbeAt).toISOString()}`,
        });
        earliestProbe = Math.min(earliestProbe, gate.nextProbeAt);
        skippedOpen = true;
        outcome = { kind: "error", err, otherKeys: false };
      } else {
        allOpen = false;
        outcome = await this.callCandidate(gen, attemptNo, ctrl, provider, model, followers, gate, triedKeys.get(provider.id) ?? triedKeys.set(provider.id, new Set()).get(provider.id)!);
      }
      if (outcome.kind === "done") return outcome.result;
      const err = outcome.err;
      if (ctrl.signal.reason === SHUTDOWN) return this.handBack(gen);
      if (err.kind === "cancelled") return { kind: "skipped", reason: "cancelled" };
      if (deadlinePassed(gen)) return this.fail(gen, deadlineError(cand.provider), false, "DEADLINE_EXCEEDED");
      if (err.partial) await this.emit(gen, { type: "RESTARTED", message: "the stream broke mid-answer; partial output discarded, the next attempt streams afresh" });
      // A key-specific failure (429, 401/403) moves to another key of the same provider at once.
      const sameAgain = (err.kind === "rate_limited" || err.kind === "auth") && outcome.kind === "error" && outcome.otherKeys;
      if (!err.retryable && !sameAgain) return this.fail(gen, err, false);
      const next = sameAgain ? idx : idx + 1;
      if (next < candidates.length && calls < MAX_CALLS_PER_RUN) {
        this.metrics.upstreamRetries.inc({ provider: cand.provider, error_kind: err.kind, action: next === idx ? "other_key" : "fallback" });
        if (skippedOpen) {
          // No call was made: the same attempt (and its reservation) goes to the next candidate.
          if (!(await this.retarget(gen, attemptNo, candidates[next], next))) return { kind: "skipped", reason: "superseded or cancelled while running" };
        } else {
          const opened = await this.openAttempt(gen, candidates[next], next);
          if (!opened) return { kind: "skipped", reason: "superseded or cancelled while running" };
          attemptNo = opened;
          if (!(await this.quotas.extend(gen, attemptNo))) return this.overBudget(gen, attemptNo);
        }
        if (next !== idx)
          await this.emit(gen, { type: "FALLBACK", message: `${cand.model} failed (${err.kind}: ${err.message.slice(0, 200)}); trying ${candidates[next].model}` });
        idx = next;
        continue;
      }
      if (skippedOpen) await this.settleAttempt(gen.id, attemptNo, "SKIPPED", 0, 0, err);
      if (allOpen && earliestProbe < Infinity) {
        // Every candidate's circuit is OPEN: wait for the earliest probe, or fail at once, as the request chose.
        if (gen.whenUnavailable === "FAIL")
          return this.fail(gen, new ProviderError({ provider: cand.provider, kind: "unavailable", retryable: false, message: `every candidate's circuit is OPEN (${candidates.map((c) => c.model).join(", ")})` }), false, "SERVICE_UNAVAILABLE");
        return this.delay(gen, Math.max(50, earliestProbe - Date.now()), "every candidate's circuit is OPEN");
      }
      if (outcome.kind === "wait") return this.delay(gen, outcome.delayMs, outcome.reason);
      if (!job.isLastAttempt) return this.retry(gen, err);
      return this.fail(gen, err, false);
    }
  }

  /** One upstream call (or the re-check of a pending task) on one candidate. */
  private async callCandidate(
    gen: GenerationEntity, attemptNo: number, ctrl: AbortController, provider: GenerationProvider, model: ModelInfo, followers: Followers | null,
    gate: Extract<Gate, { allowed: true }> | undefined,
    triedKeys: Set<string>,
  ): Promise<CallOutcome> {
    let verdict: CallVerdict = "neutral";
    try {
      const out = await this.callCandidateInner(gen, attemptNo, ctrl, provider, model, followers, triedKeys);
      verdict = out.verdict;
      return out.outcome;
    } finally {
      if (gate) await this.breakers!.record(gate, provider.id, verdict).catch((err) => this.log.warn({ err }, "recording a circuit outcome failed"));
    }
  }

  private async callCandidateInner(
    gen: GenerationEntity, attemptNo: number, ctrl: AbortController, provider: GenerationProvider, model: ModelInfo, followers: Followers | null,
    triedKeys: Set<string>,
  ): Promise<{ outcome: CallOutcome; verdict: CallVerdict }> {
    const task = gen.upstreamTask;
    // The attempt's timeout, shortened to what is left of the request's deadline.
    const untilDeadline = gen.deadlineAt ? gen.deadlineAt.getTime() - Date.now() : Infinity;
    const t = this.cfg.timeouts ?? {};
    const perAttempt = t[`${provider.id}:${gen.modality}`] ?? t[provider.id] ?? t[gen.modality] ?? this.cfg.providerTimeoutMs;
    const timeoutMs = Math.max(1, Math.min(perAttempt, untilDeadline));
    const req = toRequest(gen);
    const batched = !task && req.modality === "EMBEDDING" && !!provider.embedBatch && !!this.batcher?.enabled;
    let lease: Extract<Acquired, { kind: "key" }> | undefined;
    let reservedTokens = 0;
    if (provider.requiresKey && this.keys && !batched) {
      const skip = async (kind: "rate_limited" | "auth" | "invalid_request", reason: string, delayMs?: number, recordAs?: string) => {
        const err = new ProviderError({ provider: provider.id, kind, retryable: kind !== "invalid_request", message: reason });
        await this.settleAttempt(gen.id, attemptNo, "SKIPPED", 0, 0, recordAs ? Object.assign(new ProviderError({ provider: provider.id, kind, message: reason }), { kind: recordAs }) : err);
        const outcome: CallOutcome = delayMs !== undefined ? { kind: "wait", err, delayMs, reason } : { kind: "error", err, otherKeys: false };
        return { outcome, verdict: "neutral" as CallVerdict };
      };
      const limited = !task && !!this.keyLimits?.limited(provider.id);
      const usage = limited ? worstCaseUsage(req, model) : undefined;
      const tokens = (usage?.inputTokens ?? 0) + (usage?.outputTokens ?? 0);
      let limitReason: string | undefined;
      for (let tries = 0; ; tries++) {
        let got = await this.keys.acquire(provider.id, timeoutMs + 60_000, task?.keyLabel, triedKeys);
        // Every key failed in this run already: the least bad of them rather than none.
        if (got.kind === "unavailable" && triedKeys.size && !task) got = await this.keys.acquire(provider.id, timeoutMs + 60_000);
        if (got.kind !== "key")
          return skip(
            got.kind === "wait" ? "rate_limited" : "auth", limitReason ?? got.reason, got.kind === "wait" ? got.delayMs : undefined,
            got.kind === "wait" && got.cause === "busy" && !limitReason ? "keys_busy" : undefined,
          );
        if (!limited) {
          lease = got;
          break;
        }
        // Per-key RPM/TPM: a key whose minute is spent rests; another key, or the job waits (queue instead of 429).
        const adm = await this.keyLimits!.admit(provider.id, got.label, tokens);
        if (adm.ok) {
          lease = got;
          reservedTokens = adm.tokens;
          break;
        }
        await this.keys.release(provider.id, got.label, got.leaseId, "cancelled");
        if ("never" in adm) return skip("invalid_request", adm.reason);
        await this.keys.pause(provider.id, got.label, got.leaseId, adm.waitMs);
        limitReason = adm.reason;
        if (tries >= this.keys.keyCount(provider.id)) return skip("rate_limited", adm.reason, adm.waitMs);
      }
    }
    const refund = async (usage?: GenerationResult["usage"]) => {
      if (!lease || reservedTokens <= 0) return;
      const used = usage ? (usage.inputTokens ?? 0) + (usage.outputTokens ?? 0) : 0;
      await this.keyLimits!.refund(provider.id, lease.label, Math.max(0, reservedTokens - used));
    };
    const events = new DeltaBuffer(this.cfg.deltaCoalesceMs, async (delta) => {
      await this.emit(gen, { type: "DELTA", delta });
      await followers?.delta(delta);
    });
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = AbortSignal.any([ctrl.signal, timeout]);
    const t0 = performance.now();
    const firstToken = firstTokenTimer(this.metrics, provider.id, model.id);
    let keyLabel = lease?.label;
    try {
      const call: ProviderCall = {
        apiKey: lease?.key, keyLabel, signal, timeoutMs, attempt: attemptNo,
        onDelta: (d) => {
          firstToken();
          events.push(d);
        },
        // Progress is best effort: a failed write (Postgres or Redis away for a moment) never takes the process down.
        onProgress: (p) => void events.then(() => this.progress(gen, p, followers)).catch((err) => this.log.warn({ err, generationId: gen.id }, "progress update failed")),
      };
      let out: GenerateOutcome;
      if (task) out = await provider.poll!({ pending: true, taskId: task.taskId, state: task.state, checkAfterMs: 0 }, req, call);
      else if (batched) {
        const b = await this.batcher!.embed(provider, req, signal, timeoutMs);
        out = b.result;
        keyLabel = b.keyLabel;
      } else out = await provider.generate(req, call);
      await events.flush();
      if (isPending(out)) {
        if (lease) await this.keys!.release(provider.id, lease.label, lease.leaseId, "ok");
        return { outcome: { kind: "done", result: await this.pend(gen, attemptNo, provider.id, model, out, keyLabel, followers) }, verdict: "success" };
      }
      await refund(out.usage);
      const latency = Math.round(performance.now() - t0);
      const problem = validateOutput(out, req);
      if (problem) {
        // The call happened (and costs what it cost); its output is unusable: try the next candidate.
        const err = new ProviderError({ provider: provider.id, kind: "bad_response", message: `output validation failed: ${problem}` });
        if (lease) await this.keys!.release(provider.id, lease.label, lease.leaseId, "ok");
        await this.settleAttempt(gen.id, attemptNo, "INVALID", latency, costOf(model, out.usage), err, keyLabel);
        this.metrics.upstreamAttempts.inc({ provider: provider.id, model: model.id, outcome: "invalid_output" });
        if (task) await this.clearTask(gen);
        return { outcome: { kind: "error", err, otherKeys: false }, verdict: "failure" };
      }
      if (lease) await this.keys!.release(provider.id, lease.label, lease.leaseId, "ok");
      return { outcome: { kind: "done", result: await this.succeed(gen, model, attemptNo, out, latency, keyLabel) }, verdict: "success" };
    } catch (e) {
      await events.flush();
      const err = classify(e, provider.id, ctrl.signal.aborted, timeout.aborted);
      const latency = Math.round(performance.now() - t0);
      if (lease) {
        await this.keys!.release(provider.id, lease.label, lease.leaseId, keyOutcome(err), err.retryAfterSeconds !== undefined ? err.retryAfterSeconds * 1000 : undefined);
        if (err.kind === "rate_limited" || err.kind === "auth") triedKeys.add(lease.label);
      }
      await this.settleAttempt(gen.id, attemptNo, err.kind === "cancelled" ? "CANCELLED" : "FAILED", latency, 0, err, keyLabel);
      this.metrics.upstreamAttempts.inc({ provider: provider.id, model: model.id, outcome: err.kind });
      if (task && err.kind !== "cancelled") await this.clearTask(gen);
      await refund(undefined);
      return {
        outcome: { kind: "error", err, otherKeys: !!this.keys && ((err.kind === "rate_limited" && this.keys.keyCount(provider.id) > 1) || (err.kind === "auth" && this.keys.keyCount(provider.id) > triedKeys.size)) },
        // A request that injects its own failures (simulated params.simulate) says nothing about the provider's health.
        verdict: ctrl.signal.aborted || injectsFailure(provider, req) ? "neutral" : verdictOf(err.kind),
      };
    }
  }

  /** An upstream task is running: remember it, report progress, and let a delayed job re-check it. */
  private async pend(gen: GenerationEntity, attemptNo: number, providerId: string, model: ModelInfo, task: PendingTask, keyLabel: string | undefined, followers: Followers | null): Promise<RunOutcome> {
    const stored: UpstreamTask = {
      taskId: task.taskId, state: task.state, provider: providerId, providerModel: model.name, keyLabel, attemptNo,
      startedAt: gen.upstreamTask?.startedAt ?? new Date().toISOString(),
    };
    const [rows] = await this.ds.query(
      `UPDATE generations SET upstream_task = $3, updated_at = now() WHERE id = $1 AND status = 'RUNNING' AND run_attempt = $2 RETURNING id`,
      [gen.id, gen.runAttempt, JSON.stringify(stored)],
    );
    if (!rows.length) {
      // Cancelled while the task was being created: stop it upstream too.
      await this.cancelUpstream({ ...gen, upstreamTask: stored } as GenerationEntity);
      return { kind: "skipped", reason: "cancelled while the upstream task started" };
    }
    if (task.progress !== undefined) await this.progress(gen, task.progress, followers);
    return { kind: "recheck", delayMs: Math.max(0, task.checkAfterMs) };
  }

  private async clearTask(gen: GenerationEntity): Promise<void> {
    gen.upstreamTask = null;
    await this.ds.query(`UPDATE generations SET upstream_task = NULL WHERE id = $1 AND run_attempt = $2`, [gen.id, gen.runAttempt]);
  }

  private async cancelUpstream(gen: GenerationEntity): Promise<void> {
    await this.upstream?.cancel(gen).catch((err) => this.log.warn({ err, generationId: gen.id }, "cancelling the upstream task failed"));
  }

  /** Opens the next attempt on a candidate (fallback or another key); its number, or null when this run no longer owns the generation. */
  private async openAttempt(gen: GenerationEntity, cand: Candidate, idx: number): Promise<number | null> {
    const rows: { attempt_no: number }[] = await this.ds.query(
      `WITH g AS (
         UPDATE generations SET provider = $3, provider_model = $4, candidate_index = $5, updated_at = now()
          WHERE id = $1 AND status = 'RUNNING' AND run_attempt = $2 RETURNING id
       )
       INSERT INTO generation_attempts (id, generation_id, attempt_no, provider, model, status, cost_micros, created_at)
       SELECT gen_random_uuid(), g.id, (SELECT COALESCE(MAX(x.attempt_no), 0) + 1 FROM generation_attempts x WHERE x.generation_id = g.id),
              $3, $4, 'RUNNING', 0, now() FROM g
       RETURNING attempt_no`,
      [gen.id, gen.runAttempt, cand.provider, cand.providerModel, idx],
    );
    if (!rows[0]) return null;
    gen.provider = cand.provider;
    gen.providerModel = cand.providerModel;
    gen.candidateIndex = idx;
    return rows[0].attempt_no;
  }

  /** Points the current (not yet called) attempt at another candidate. */
  private async retarget(gen: GenerationEntity, attemptNo: number, cand: Candidate, idx: number): Promise<boolean> {
    const rows: unknown[] = await this.ds.query(
      `WITH g AS (
         UPDATE generations SET provider = $4, provider_model = $5, candidate_index = $6, updated_at = now()
          WHERE id = $1 AND status = 'RUNNING' AND run_attempt = $2 RETURNING id
       )
       UPDATE generation_attempts a SET provider = $4, model = $5 FROM g
        WHERE a.generation_id = g.id AND a.attempt_no = $3 AND a.status = 'RUNNING' RETURNING a.attempt_no`,
      [gen.id, gen.runAttempt, attemptNo, cand.provider, cand.providerModel, idx],
    );
    const updated = Array.isArray(rows[0]) ? (rows[0] as unknown[]).length : rows.length;
    if (!updated) return false;
    gen.provider = cand.provider;
    gen.providerModel = cand.providerModel;
    gen.candidateIndex = idx;
    return true;
  }

  private async overBudget(gen: GenerationEntity, attemptNo: number): Promise<RunOutcome> {
    const err = new ProviderError({ provider: gen.provider ?? "?", kind: "invalid_request", message: "Another attempt would exceed the budget: the remaining quota cannot cover its worst-case cost" });
    await this.settleAttempt(gen.id, attemptNo, "CANCELLED", 0, 0, err);
    return this.fail(gen, err, false, "QUOTA_EXCEEDED");
  }

  /** Every key is cooling down (or at its cap): the job waits in delayed without using up a retry. */
  private async delay(gen: GenerationEntity, delayMs: number, reason: string): Promise<RunOutcome> {
    this.metrics.upstreamRetries.inc({ provider: gen.provider ?? "unknown", error_kind: /circuit/.test(reason) ? "circuit_open" : /concurrency cap/.test(reason) ? "keys_busy" : "rate_limited", action: "delay" });
    const cap = gen.deadlineAt ? Math.max(0, gen.deadlineAt.getTime() - Date.now()) : Infinity;
    const [rows] = await this.ds.query(
      `UPDATE generations SET status = 'QUEUED', progress = 0, candidate_index = 0,
              provider = COALESCE(candidates->0->>'provider', provider), provider_model = COALESCE(candidates->0->>'providerModel', provider_model), updated_at = now()
        WHERE id = $1 AND status = 'RUNNING' AND run_attempt = $2 RETURNING *`,
      [gen.id, gen.runAttempt],
    );
    if (!rows[0]) return { kind: "skipped", reason: "superseded or cancelled while running" };
    await this.emit(rowToEntity(this.ds, GenerationEntity, rows[0]), { type: "RETRYING", message: `${reason}; waiting ${Math.ceil(delayMs / 100) / 10}s` });
    return { kind: "delay", delayMs: Math.min(delayMs, cap) };
  }

  private async succeed(gen: GenerationEntity, model: ModelInfo, attemptNo: number, result: GenerationResult, latencyMs: number, keyLabel?: string): Promise<RunOutcome> {
    const output: StoredOutput = { usage: result.usage, finishReason: result.finishReason };
    if (result.text !== undefined) output.text = result.text;
    if (result.toolCalls?.length) output.toolCalls = result.toolCalls;
    if (result.embedding) output.embedding = result.embedding;
    if (result.media?.length) {
      output.files = [];
      for (const [i, m] of result.media.entries()) {
        const key = `${gen.id}/${gen.runAttempt}-${i}.${EXT[m.mimeType] ?? "bin"}`;
        await this.blobs.put(key, m.data, m.mimeType);
        output.files.push({ key, mimeType: m.mimeType, sizeBytes: m.data.length, width: m.width, height: m.height, durationSeconds: m.durationSeconds });
      }
    }
    const cost = costOf(model, result.usage);
    this.metrics.upstreamAttempts.inc({ provider: model.provider, model: model.id, outcome: "ok" });
    countTokens(this.metrics, model.provider, model.id, result.usage);
    const done = await this.store.succeed({ gen, attemptNo, output, latencyMs, costMicros: cost, keyLabel });
    if (done && this.cfg.faultExitAfterTerminalCommit && this.registry.provider(model.provider)?.simulated) process.kill(process.pid, "SIGKILL");
    // Fill the cache before the in-flight key goes, so an identical request finds one or the other.
    if (done?.cacheKey && this.cache)
      await this.cache.exact
        .set(done.cacheKey, done.modality, { sourceGenerationId: done.id, model: done.model, output, createdAt: new Date().toISOString() })
        .catch((err) => this.log.warn({ err, generationId: done.id }, "cache write failed"));
    // Followers get the answer even when the leader was cancelled meanwhile (one of them paid).
    const shared = await this.endGroup(gen, { status: "SUCCEEDED", output });
    if (!done) {
      if (!shared) for (const f of output.files ?? []) await this.blobs.delete(f.key).catch(() => undefined);
      return { kind: "skipped", reason: "superseded or cancelled while running" };
    }
    // The semantic entry is written before SUCCEEDED, so a caller that saw it finish finds it (like the exact cache).
    if (done.semanticScope && this.cache)
      await this.cache.semantic.add(done, toRequest(done), output).catch((err) => this.log.warn({ err, generationId: done.id }, "semantic cache write failed"));
    await this.emit(done, { type: "SUCCEEDED" });
    this.quotas.changed(done.userId, false);
    this.observeTerminal(done);
    return { kind: "finished", status: "SUCCEEDED" };
  }

  private async retry(gen: GenerationEntity, err: ProviderError): Promise<RunOutcome> {
    this.metrics.upstreamRetries.inc({ provider: gen.provider ?? "unknown", error_kind: err.kind, action: "retry" });
    // The next run starts again from the first candidate.
    const res = await this.ds.query(
      `UPDATE generations SET status = 'QUEUED', progress = 0, candidate_index = 0, upstream_task = NULL,
              provider = COALESCE(candidates->0->>'provider', provider), provider_model = COALESCE(candidates->0->>'providerModel', provider_model), updated_at = now()
        WHERE id = $1 AND status = 'RUNNING' AND run_attempt = $2 RETURNING *`,
      [gen.id, gen.runAttempt],
    );
    const row = res[0]?.[0];
    if (!row) return { kind: "skipped", reason: "superseded or cancelled while running" };
    const delayMs = err.retryAfterSeconds !== undefined ? err.retryAfterSeconds * 1000 : undefined;
    await this.emit(rowToEntity(this.ds, GenerationEntity, row), {
      type: "RETRYING",
      message: `${err.kind}: ${err.message}; retrying${delayMs !== undefined ? ` in ${delayMs / 1000}s` : ""}`,
    });
    // Never wait past the request's deadline: the retry then fails it with DEADLINE_EXCEEDED on time.
    const maxDelayMs = gen.deadlineAt ? Math.max(0, gen.deadlineAt.getTime() - Date.now()) : undefined;
    return { kind: "retry", delayMs, error: err, maxDelayMs };
  }

  private async handBack(gen: GenerationEntity): Promise<RunOutcome> {
    const res = await this.ds.query(
      `UPDATE generations SET status = 'QUEUED', progress = 0, updated_at = now()
        WHERE id = $1 AND status = 'RUNNING' AND run_attempt = $2 RETURNING *`,
      [gen.id, gen.runAttempt],
    );
    const row = res[0]?.[0];
    if (row)
      await this.emit(rowToEntity(this.ds, GenerationEntity, row), {
        type: "RESTARTED",
        message: "the worker running it shut down; partial output discarded, it goes back to the queue",
      });
    return { kind: "handback" };
  }

  private async fail(gen: GenerationEntity, err: ProviderError, skipAttemptCheck: boolean, code = errorCode(err.kind)): Promise<RunOutcome> {
    const rows = await this.ds.query(
      `WITH g AS (
         UPDATE generations SET status = 'FAILED', error_code = $3, error_message = $4, upstream_task = NULL,
                cost_micros = (SELECT COALESCE(SUM(cost_micros), 0) FROM generation_attempts WHERE generation_id = $1),
                completed_at = now(), updated_at = now()
          WHERE id = $1 AND status = 'RUNNING' AND ($5 OR run_attempt = $2) RETURNING *
       ) ${RELEASE_AND_SELECT}`,
      [gen.id, gen.runAttempt, code, err.message.slice(0, 1000), skipAttemptCheck],
    );
    await this.endGroup(gen, { status: "FAILED", code, message: err.message });
    const row = rows[0];
    if (!row) return { kind: "skipped", reason: "superseded or cancelled while running" };
    const done = rowToEntity(this.ds, GenerationEntity, row);
    await this.emit(done, { type: "FAILED", message: err.message });
    this.quotas.changed(done.userId, false);
    this.observeTerminal(done);
    return { kind: "finished", status: "FAILED" };
  }

  private async progress(gen: GenerationEntity, p: number, followers: Followers | null): Promise<void> {
    gen.progress = Math.max(0, Math.min(1, p));
    await this.ds.query(
      `UPDATE generations SET progress = $3, updated_at = now() WHERE id = $1 AND status = 'RUNNING' AND run_attempt = $2`,
      [gen.id, gen.runAttempt, gen.progress],
    );
    await this.emit(gen, { type: "PROGRESS", progress: gen.progress });
    await followers?.progress(gen.progress);
  }

  /** The group's work is over: its followers end the same way and the in-flight key is dropped. */
  private async endGroup(gen: GenerationEntity, outcome: GroupOutcome): Promise<number> {
    if (!gen.cacheKey || !this.cache) return 0;
    const done = await finishFollowers(this.ds, this.bus, this.quotas, gen.id, outcome);
    for (const d of done) this.observeTerminal(d);
    await this.cache.coalescer.release(gen.cacheKey, gen.id).catch(() => undefined);
    return done.length;
  }

  /** Records how an attempt ended and charges what it cost (once: the ledger entry is unique). */
  private async settleAttempt(generationId: string, attemptNo: number, status: string, latencyMs: number, costMicros: number, err?: ProviderError, keyLabel?: string) {
    await this.ds.query(
      `WITH charged AS (
         UPDATE generation_attempts SET status = $3, latency_ms = $4, cost_micros = $5, error_kind = $6, error_message = $7, key_label = COALESCE($8, key_label)
          WHERE generation_id = $1 AND attempt_no = $2 AND status = 'RUNNING'
         RETURNING generation_id, attempt_no, cost_micros
       ) ${CHARGE_CTES}, late AS (
         -- an attempt that ends after its generation did (cancelled meanwhile) still counts in its cost
         UPDATE generations g SET cost_micros = COALESCE(g.cost_micros, 0) + c.cost_micros
           FROM charged c WHERE g.id = c.generation_id AND c.cost_micros > 0 AND g.status IN ('SUCCEEDED','FAILED','CANCELLED')
       )
       SELECT 1`,
      [generationId, attemptNo, status, latencyMs, costMicros, err?.kind ?? null, err?.message.slice(0, 500) ?? null, keyLabel ?? null],
    );
  }

  private observeTerminal(g: GenerationEntity): void {
    countTerminal(this.metrics, g);
  }
}

/** params.simulate.failWith on a simulated provider: failures the request asked for. */
const injectsFailure = (p: GenerationProvider, req: GenerationRequest): boolean =>
  p.simulated && !!(req.params?.simulate as { failWith?: unknown } | undefined)?.failWith;

const deadlinePassed = (g: GenerationEntity): boolean => !!g.deadlineAt && Date.now() >= g.deadlineAt.getTime();

const deadlineError = (provider: string) =>
  new ProviderError({ provider, kind: "timeout", retryable: false, message: "The request's deadline passed before it finished (deadlineSeconds); the upstream call was aborted" });

function classify(e: unknown, provider: string, cancelled: boolean, timedOut: boolean): ProviderError {
  if (cancelled) return new ProviderError({ provider, kind: "cancelled", message: "cancelled" });
  if (e instanceof ProviderError) {
    if (e.kind === "cancelled" && timedOut) return new ProviderError({ provider, kind: "timeout", message: "the provider did not answer in time" });
    return e;
  }
  if (timedOut) return new ProviderError({ provider, kind: "timeout", message: "the provider did not answer in time" });
  return new ProviderError({ provider, kind: "unavailable", message: `internal error: ${(e as Error)?.message ?? String(e)}` });
}

export function toRequest(g: GenerationEntity): GenerationRequest {
  const req: GenerationRequest = { modality: g.modality, model: g.providerModel ?? "", params: g.params ?? {} };
  if (g.prompt != null) req.prompt = g.prompt;
  if (g.messages) req.messages = g.messages;
  if (g.system != null) req.system = g.system;
  if (g.textOptions) req.text = g.textOptions;
  if (g.imageOptions) req.image = g.imageOptions;
  if (g.videoOptions) req.video = g.videoOptions;
  if (g.audioOptions) req.audio = g.audioOptions;
  if (g.seed != null) req.seed = g.seed;
  return req;
}
