/**
 * The worker side of a generation: claim it, walk its candidates (fallbacks, other keys),
 * and end the run — finished, retried with backoff, waiting in delayed, or handed back.
 * One upstream call is upstream-call.ts; finishing is finish.ts; the vocabulary is outcome.ts.
 * Every state change is conditional on (status, run_attempt), so a duplicate or stale
 * job can never complete a generation twice or overwrite a newer state.
 */
import type { Candidate, GenerationEntity } from "../../../db/entities/generation.entity";
import { ProviderError } from "../../../providers/contract";
import { Followers } from "../coalesced-group";
import type { Claim } from "../generation.store";
import type { EventInit, PublishOptions } from "../generation-events";
import type { Emit, RunnerDeps } from "./deps";
import { Finish } from "./finish";
import {
  circuitOpenError, deadlineError, deadlinePassed, retryLater, superseded,
  type AttemptError, type CallOutcome, type DelayReason, type RunJob, type RunOutcome,
} from "./outcome";
import { RunEvents } from "./run-events";
import { UpstreamCall } from "./upstream-call";

/** Calls (fallbacks, other keys) one run may make before it hands over to the job's backoff. */
const MAX_CALLS_PER_RUN = 8;

const SHUTDOWN = Symbol("shutdown");

export class GenerationRunner {
  private readonly active = new Map<string, AbortController>();
  /** The event stream of each run in this process, by generation id. */
  private readonly streams = new Map<string, RunEvents>();
  private readonly finish: Finish;
  private readonly upstream: UpstreamCall;

  constructor(private readonly d: RunnerDeps) {
    const emit: Emit = (g, ev, opts) => this.emit(g, ev, opts);
    this.finish = new Finish(d, emit);
    this.upstream = new UpstreamCall(d, emit, this.finish);
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

  /** How runs end a generation (finish.ts), for work that ends generations outside a run: provider batches. */
  get finisher(): Finish {
    return this.finish;
  }

  async run(job: RunJob): Promise<RunOutcome> {
    const { store } = this.d;
    const ctrl = new AbortController();
    this.active.set(job.generationId, ctrl); // before the claim: a cancel racing the claim is not missed
    let heirId: string | undefined;
    let mine: RunEvents | undefined;
    try {
      let claimed = job.claimed ?? (await store.claim(job.generationId));
      if (!claimed) {
        // The leader is gone but identical requests still wait on it: the oldest leads now.
        const heir = await store.promoteHeir(job.generationId);
        if (heir) {
          this.active.set(heir.id, ctrl);
          heirId = heir.id;
          claimed = await store.claim(heir.id);
        }
      }
      if (!claimed) {
        await this.repairTerminalEvent(job.generationId);
        return { kind: "skipped", reason: "not QUEUED or RUNNING" };
      }
      mine = new RunEvents(this.d.events, store, claimed.gen.id, claimed.gen.runAttempt, claimed.seqFloor, claimed.gen.seqReserved);
      // Registered first, so the floor knows STARTED's seq before anything that waits for it goes on.
      const run = mine;
      claimed.started?.then((seq) => run.published(seq, "STARTED"), () => undefined);
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
      const done = await this.d.store.terminal(generationId);
      if (done && (await this.d.events.republishTerminal(done))) this.d.log.warn({ generationId, status: done.status }, "published a terminal event its run never published");
    } catch (err) {
      this.d.log.warn({ err, generationId }, "checking a terminal generation's event failed");
    }
  }

  /** Publishes an event of a run in this process with the seq it knows (any other event goes out as is). */
  private emit(g: GenerationEntity, ev: EventInit, opts?: Omit<PublishOptions, "floor">): Promise<number> {
    // A run superseded in this very process (its job was re-claimed here) must not speak through the new run's stream:
    // it publishes fenced by its own run attempt, so its late events are dropped.
    const s = this.streams.get(g.id);
    if (s && s.runAttempt === g.runAttempt) return s.emit(g, ev, opts);
    return this.d.events.publishGenerationEvent(g, ev, { ...opts, run: g.runAttempt });
  }

  private async execute({ gen, attemptNo, takenOver, started: bornStarted }: Claim, ctrl: AbortController, job: RunJob): Promise<RunOutcome> {
    const { d } = this;
    if (deadlinePassed(gen)) {
      const err = deadlineError(gen.provider ?? "?");
      await d.store.settleAttempt({ generationId: gen.id, attemptNo, status: "CANCELLED", latencyMs: 0, costMicros: 0, error: err });
      if (gen.upstreamTask) await this.upstream.cancelUpstream(gen);
      return this.finish.fail(gen, err, "DEADLINE_EXCEEDED");
    }
    if (!gen.upstreamTask && attemptNo > 1 && !(await d.quotas.extend(gen, attemptNo))) return this.overBudget(gen, attemptNo);
    if (gen.runAttempt === 1) d.metrics.queueWait.observe({ priority: gen.priority }, (Date.now() - gen.createdAt.getTime()) / 1000);
    let started: Promise<unknown> = Promise.resolve();
    if (!gen.upstreamTask) {
      // A run taken over from a worker that died mid-stream discards what it streamed, as a hand-back does;
      // any later run does so too if text from an earlier one was left without a RESTARTED.
      if (takenOver) await this.emit(gen, { type: "RESTARTED", message: "the worker running it stopped; partial output discarded, it streams afresh" });
      else if (gen.runAttempt > 1) await this.emit(gen, { type: "RESTARTED", message: "a new run streams afresh; partial output discarded" }, { onlyIfText: true });
      // STARTED goes out while the breaker and the key pool are asked (one round trip, not three in a row); nothing else
      // is published, and no call is made, before it is (runCandidates and UpstreamCall.dispatch wait for it).
      // (A row born RUNNING on the fast path has its STARTED published with its QUEUED: Claim.started.)
      started = bornStarted ?? this.emit(gen, { type: "STARTED" });
      started.catch(() => undefined); // awaited below; not unhandled meanwhile
    }
    // Only a request that can be coalesced (it has a cache key) can have followers; they hear of the run after its STARTED,
    // and they are looked for while it goes out: no call is made before both (the run's `started` covers the two).
    const followers = gen.cacheKey ? Followers.start(d.store, d.events, gen, started) : null;
    if (followers) {
      started = Promise.all([started, followers.ready]);
      started.catch(() => undefined);
    }
    try {
      return await this.runCandidates(gen, attemptNo, ctrl, job, followers, started);
    } finally {
      followers?.close();
    }
  }

  /**
   * Calls the current candidate; a retryable failure falls through to the next one (FALLBACK)
   * within this run, a rate-limited key to another key; when the list is exhausted the job
   * retries with backoff from the first candidate. Every call is an attempt row.
   */
  private async runCandidates(gen: GenerationEntity, attemptNo: number, ctrl: AbortController, job: RunJob, followers: Followers | null, started: Promise<unknown>): Promise<RunOutcome> {
    const { d } = this;
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
      const provider = d.registry.provider(cand.provider);
      const model = d.registry.model(cand.model);
      let outcome: CallOutcome;
      // A pending task is re-checked whatever its circuit says: the call that started it was admitted.
      const gate = provider && model && !gen.upstreamTask ? await d.breakers.allow(provider.id, model.name) : undefined;
      let skippedOpen = false;
      if (!provider || !model) {
        const err = new ProviderError({ provider: cand.provider, kind: "invalid_request", retryable: true, message: `model ${cand.model} is not configured on this worker` });
        await d.store.settleAttempt({ generationId: gen.id, attemptNo, status: "FAILED", latencyMs: 0, costMicros: 0, error: err });
        outcome = { kind: "error", err, otherKeys: false };
        allOpen = false;
      } else if (gate && !gate.allowed) {
        // Skipped without an upstream call: its attempt slot moves to the next candidate (or ends SKIPPED).
        earliestProbe = Math.min(earliestProbe, gate.nextProbeAt);
        skippedOpen = true;
        outcome = { kind: "error", err: circuitOpenError(gate.circuit, gate.nextProbeAt), otherKeys: false };
      } else {
        allOpen = false;
        const tried = triedKeys.get(provider.id) ?? triedKeys.set(provider.id, new Set()).get(provider.id)!;
        outcome = await this.upstream.call({ gen, attemptNo, ctrl, provider, model, followers, gate, triedKeys: tried, started });
      }
      await started; // before any other event or transition (long resolved after a call)
      if (outcome.kind === "done") return outcome.result;
      const err = outcome.err;
      if (ctrl.signal.reason === SHUTDOWN) return this.handBack(gen);
      if (err.kind === "cancelled") return { kind: "skipped", reason: "cancelled" };
      if (deadlinePassed(gen)) return this.finish.fail(gen, deadlineError(cand.provider), "DEADLINE_EXCEEDED");
      if (err.partial) await this.emit(gen, { type: "RESTARTED", message: "the stream broke mid-answer; partial output discarded, the next attempt streams afresh" });
      // A key-specific failure (429, 401/403) moves to another key of the same provider at once.
      const sameAgain = (err.kind === "rate_limited" || err.kind === "auth") && outcome.kind === "error" && outcome.otherKeys;
      if (!err.retryable && !sameAgain) return this.finish.fail(gen, err);
      const next = sameAgain ? idx : idx + 1;
      if (next < candidates.length && calls < MAX_CALLS_PER_RUN) {
        d.metrics.upstreamRetries.inc({ provider: cand.provider, error_kind: err.kind, action: next === idx ? "other_key" : "fallback" });
        if (skippedOpen) {
          // No call was made: the same attempt (and its reservation) goes to the next candidate.
          if (!(await d.store.retarget(gen, attemptNo, candidates[next], next))) return superseded();
        } else {
          const opened = await d.store.openAttempt(gen, candidates[next], next);
          if (!opened) return superseded();
          attemptNo = opened;
        }
        gen.provider = candidates[next].provider;
        gen.providerModel = candidates[next].providerModel;
        gen.candidateIndex = next;
        if (!skippedOpen && !(await d.quotas.extend(gen, attemptNo))) return this.overBudget(gen, attemptNo);
        if (next !== idx)
          await this.emit(gen, { type: "FALLBACK", message: `${cand.model} failed (${err.kind}: ${err.message.slice(0, 200)}); trying ${candidates[next].model}` });
        idx = next;
        continue;
      }
      if (skippedOpen) await d.store.settleAttempt({ generationId: gen.id, attemptNo, status: "SKIPPED", latencyMs: 0, costMicros: 0, error: err });
      if (allOpen && earliestProbe < Infinity) {
        // Every candidate's circuit is OPEN: wait for the earliest probe, or fail at once, as the request chose.
        if (gen.whenUnavailable === "FAIL")
          return this.finish.fail(gen, new ProviderError({ provider: cand.provider, kind: "unavailable", retryable: false, message: `every candidate's circuit is OPEN (${candidates.map((c) => c.model).join(", ")})` }), "SERVICE_UNAVAILABLE");
        return this.delay(gen, Math.max(50, earliestProbe - Date.now()), "every candidate's circuit is OPEN", "circuit_open");
      }
      if (outcome.kind === "wait") return this.delay(gen, outcome.delayMs, outcome.reason, outcome.cause);
      // A flagged output (onFlagged: FALLBACK) ran out of candidates: asking the same models again is no fallback.
      if (!job.isLastAttempt && err.kind !== "content_policy") return this.retry(gen, err);
      return this.finish.fail(gen, err);
    }
  }

  private async overBudget(gen: GenerationEntity, attemptNo: number): Promise<RunOutcome> {
    const err = new ProviderError({ provider: gen.provider ?? "?", kind: "invalid_request", message: "Another attempt would exceed the budget: the remaining quota cannot cover its worst-case cost" });
    await this.d.store.settleAttempt({ generationId: gen.id, attemptNo, status: "CANCELLED", latencyMs: 0, costMicros: 0, error: err });
    return this.finish.fail(gen, err, "QUOTA_EXCEEDED");
  }

  /** Every key is cooling down (or at its cap), or every circuit is OPEN: the job waits in delayed without using up a retry. */
  private async delay(gen: GenerationEntity, delayMs: number, message: string, reason: DelayReason): Promise<RunOutcome> {
    this.d.metrics.upstreamRetries.inc({ provider: gen.provider ?? "unknown", error_kind: reason, action: "delay" });
    const cap = gen.deadlineAt ? Math.max(0, gen.deadlineAt.getTime() - Date.now()) : Infinity;
    const row = await this.d.store.requeue(gen, true);
    if (!row) return superseded();
    await this.emit(row, { type: "RETRYING", message: `${message}; waiting ${Math.ceil(delayMs / 100) / 10}s` });
    return { kind: "delay", delayMs: Math.min(delayMs, cap) };
  }

  private async retry(gen: GenerationEntity, err: AttemptError): Promise<RunOutcome> {
    this.d.metrics.upstreamRetries.inc({ provider: gen.provider ?? "unknown", error_kind: err.kind, action: "retry" });
    // The next run starts again from the first candidate.
    const row = await this.d.store.requeue(gen, false);
    if (!row) return superseded();
    // Never wait past the request's deadline: the retry then fails it with DEADLINE_EXCEEDED on time.
    const later = retryLater(err, gen.deadlineAt);
    await this.emit(row, { type: "RETRYING", message: `${err.kind}: ${err.message}; retrying${later.delayMs !== undefined ? ` in ${later.delayMs / 1000}s` : ""}` });
    return { kind: "retry", error: later };
  }

  private async handBack(gen: GenerationEntity): Promise<RunOutcome> {
    const row = await this.d.store.handBack(gen);
    if (row) await this.emit(row, { type: "RESTARTED", message: "the worker running it shut down; partial output discarded, it goes back to the queue" });
    return { kind: "handback" };
  }
}
