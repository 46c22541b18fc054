/**
 * One upstream call (or the re-check of a pending task) on one candidate, in small steps: the
 * attempt's timeout, the key lease (KeyPool.withKey), delta buffering, the dispatch, output
 * validation, settling the attempt, and the circuit breaker's verdict. The candidate loop
 * (runner.ts) decides what follows.
 */
import type { GenerationEntity, UpstreamTask } from "../../../db/entities/generation.entity";
import {
  isPending, ProviderError,
  type GenerateOutcome, type GenerationProvider, type GenerationRequest, type GenerationResult, type ModelInfo, type PendingTask, type ProviderCall,
} from "../../../providers/contract";
import { firstTokenTimer } from "../../monitoring/generation-metrics";
import { keyOutcomeOf, type KeyLease, type NoKey } from "../../providers/key-lease";
import { verdictOf, type CallVerdict, type Gate } from "../../resilience/circuit-breaker";
import type { Followers } from "../coalesced-group";
import { costOf, outputBound, worstCaseUsage } from "../pricing";
import { DeltaBuffer } from "./delta-buffer";
import type { Emit, RunnerConfig, RunnerDeps } from "./deps";
import type { Finish } from "./finish";
import { classify, type CallOutcome, type RunOutcome } from "./outcome";
import { validateOutput } from "./output-validation";
import { moderateOutput } from "./output-moderation";
import { toRequest } from "./to-request";

/** One call on one candidate: what the candidate loop hands over. */
export interface CallContext {
  gen: GenerationEntity;
  attemptNo: number;
  ctrl: AbortController;
  provider: GenerationProvider;
  model: ModelInfo;
  followers: Followers | null;
  /** The breaker admitted the call (undefined: a pending task's re-check, which is never gated). */
  gate: Extract<Gate, { allowed: true }> | undefined;
  /** Keys that already failed in this run, for this provider: another key is tried first. */
  triedKeys: Set<string>;
  /** The run's STARTED event, published meanwhile: the call waits for it (nothing streams before it). */
  started?: Promise<unknown>;
}

type Called = { outcome: CallOutcome; verdict: CallVerdict };
/** Tells the breaker how the call went (the first verdict given counts). */
type RecordVerdict = (v: CallVerdict) => Promise<void>;

/** The attempt's timeout, shortened to what is left of the request's deadline. */
export function attemptTimeoutMs(cfg: RunnerConfig, providerId: string, gen: Pick<GenerationEntity, "modality" | "deadlineAt">, now = Date.now()): number {
  const untilDeadline = gen.deadlineAt ? gen.deadlineAt.getTime() - now : Infinity;
  const t = cfg.timeouts ?? {};
  const perAttempt = t[`${providerId}:${gen.modality}`] ?? t[providerId] ?? t[gen.modality] ?? cfg.providerTimeoutMs;
  return Math.max(1, Math.min(perAttempt, untilDeadline));
}

/** params.simulate.failWith on a simulated provider: failures the request asked for. */
const injectsFailure = (p: GenerationProvider, req: GenerationRequest): boolean =>
  p.simulated && !!(req.params?.simulate as { failWith?: unknown } | undefined)?.failWith;

const tokensOf = (usage: GenerationResult["usage"] | undefined): number => (usage?.inputTokens ?? 0) + (usage?.outputTokens ?? 0);

export class UpstreamCall {
  constructor(private readonly d: RunnerDeps, private readonly emit: Emit, private readonly finish: Finish) {}

  /** Makes the call; the breaker that admitted it hears how it went. */
  async call(c: CallContext): Promise<CallOutcome> {
    let verdict: CallVerdict = "neutral";
    // Once per call: a dispatch that knows its verdict early records it then (in the round trip of its last deltas).
    let recorded: Promise<void> | undefined;
    const record: RecordVerdict = (v) =>
      (recorded ??= c.gate ? this.d.breakers.record(c.gate, c.provider.id, v).catch((err) => this.d.log.warn({ err }, "recording a circuit outcome failed")) : Promise.resolve());
    try {
      const out = await this.leaseAndDispatch(c, record);
      verdict = out.verdict;
      return out.outcome;
    } finally {
      await record(verdict);
    }
  }

  /** Stops a generation's upstream task (best effort). */
  async cancelUpstream(gen: GenerationEntity): Promise<void> {
    await this.d.upstream.cancel(gen).catch((err) => this.d.log.warn({ err, generationId: gen.id }, "cancelling the upstream task failed"));
  }

  private async leaseAndDispatch(c: CallContext, record: RecordVerdict): Promise<Called> {
    const { gen, provider, model, triedKeys } = c;
    const task = gen.upstreamTask;
    const timeoutMs = attemptTimeoutMs(this.d.cfg, provider.id, gen);
    const req = toRequest(gen);
    // The output bound the reservation was made for goes upstream too (pricing.ts): the call cannot cost more.
    // (The simulated provider's own default answer is shorter than any bound and costs nothing upstream.)
    if (req.modality === "TEXT" && req.text?.maxTokens === undefined && !provider.simulated) req.text = { ...req.text, maxTokens: outputBound(req, model) };
    // A batched embedding runs under the batch's key (the batcher leases it).
    if (!task && req.modality === "EMBEDDING" && !!provider.embedBatch && this.d.batcher.enabled) return this.dispatch(c, req, timeoutMs, undefined, true, record);
    const ran = await this.d.keys.withKey(provider, {
      ttlMs: timeoutMs + 60_000, label: task?.keyLabel, exclude: triedKeys, fallBackToExcluded: !task,
      tokens: task ? undefined : () => tokensOf(worstCaseUsage(req, model)),
    }, (lease) => this.dispatch(c, req, timeoutMs, lease, false, record));
    return ran.kind === "ran" ? ran.value : this.noKey(c, ran);
  }

  /** No key could be leased: the attempt is SKIPPED without a call; the job waits, or the loop goes on. */
  private async noKey({ gen, attemptNo, provider }: CallContext, why: NoKey): Promise<Called> {
    const kind = why.kind === "wait" ? "rate_limited" : why.kind === "unavailable" ? "auth" : "invalid_request";
    const err = new ProviderError({ provider: provider.id, kind, retryable: kind !== "invalid_request", message: why.reason });
    const busy = why.kind === "wait" && why.cause === "busy";
    await this.d.store.settleAttempt({ generationId: gen.id, attemptNo, status: "SKIPPED", latencyMs: 0, costMicros: 0, error: busy ? { kind: "keys_busy", message: why.reason } : err });
    const outcome: CallOutcome = why.kind === "wait"
      ? { kind: "wait", err, delayMs: why.delayMs, reason: why.reason, cause: busy ? "keys_busy" : "rate_limited" }
      : { kind: "error", err, otherKeys: false };
    return { outcome, verdict: "neutral" };
  }

  private async dispatch(c: CallContext, req: GenerationRequest, timeoutMs: number, lease: KeyLease | undefined, batched: boolean, record: RecordVerdict): Promise<Called> {
    const { d } = this;
    const { gen, attemptNo, ctrl, provider, model, followers, triedKeys } = c;
    // Outside the try: a STARTED that could not be published fails the run, not the attempt (the lease goes back uncounted).
    await c.started;
    const task = gen.upstreamTask;
    const deltas = new DeltaBuffer(d.cfg.deltaCoalesceMs, async (delta) => {
      await this.emit(gen, { type: "DELTA", delta });
      await followers?.delta(delta);
    });
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = AbortSignal.any([ctrl.signal, timeout]);
    const t0 = performance.now();
    const firstToken = firstTokenTimer(d.metrics, provider.id, model.id);
    let keyLabel = lease?.label;
    let streamed = false;
    try {
      const call: ProviderCall = {
        apiKey: lease?.key, keyLabel, signal, timeoutMs, attempt: attemptNo,
        onDelta: (delta) => {
          firstToken();
          streamed = true;
          deltas.push(delta);
        },
        // Progress is best effort: a failed write (Postgres or Redis away for a moment) never takes the process down.
        onProgress: (p) => void deltas.then(() => this.progress(gen, p, followers)).catch((err) => d.log.warn({ err, generationId: gen.id }, "progress update failed")),
      };
      let out: GenerateOutcome;
      if (task) out = await provider.poll!({ pending: true, taskId: task.taskId, state: task.state, checkAfterMs: 0 }, req, call);
      else if (batched) {
        const b = await d.batcher.embed(provider, req, signal, timeoutMs);
        out = b.result;
        keyLabel = b.keyLabel;
      } else out = await provider.generate(req, call);
      const latency = Math.round(performance.now() - t0);
      const problem = isPending(out) ? undefined : validateOutput(out, req);
      // The last deltas go out while the key is given back and the breaker hears the verdict (one round trip, not three in a
      // row; a flagged output is still a working provider: success); a pending task's tokens stay reserved. On success
      // that round trip also overlaps the success statement: SUCCEEDED waits for it (Finish.succeed's `after`).
      const tail = Promise.all([
        deltas.flush(),
        lease?.end(isPending(out) ? { outcome: "ok" } : { outcome: "ok", usedTokens: tokensOf(out.usage) }),
        record(problem ? "failure" : "success"),
      ]);
      tail.catch(() => undefined); // awaited on every path below; not unhandled meanwhile
      if (isPending(out)) {
        await tail;
        return { outcome: { kind: "done", result: await this.pend(c, out, keyLabel) }, verdict: "success" };
      }
      if (problem) {
        await tail;
        // The call happened (and costs what it cost); its output is unusable: try the next candidate.
        const err = new ProviderError({ provider: provider.id, kind: "bad_response", message: `output validation failed: ${problem}` });
        await d.store.settleAttempt({ generationId: gen.id, attemptNo, status: "INVALID", latencyMs: latency, costMicros: costOf(model, out.usage), error: err, keyLabel });
        d.metrics.upstreamAttempts.inc({ provider: provider.id, model: model.id, outcome: "invalid_output" });
        if (task) await this.clearTask(gen);
        return { outcome: { kind: "error", err, otherKeys: false }, verdict: "failure" };
      }
      const refused = await moderateOutput(d, gen, out, req, streamed);
      if (refused) {
        await tail;
        // A flagged (or unmoderated, failing closed) output: the call worked and costs what it cost, but is not served.
        await d.store.settleAttempt({ generationId: gen.id, attemptNo, status: "INVALID", latencyMs: latency, costMicros: costOf(model, out.usage), error: refused, keyLabel });
        d.metrics.upstreamAttempts.inc({ provider: provider.id, model: model.id, outcome: refused.kind === "content_policy" ? "flagged_output" : "moderation_unavailable" });
        if (task) await this.clearTask(gen);
        return { outcome: { kind: "error", err: refused, otherKeys: false }, verdict: "success" };
      }
      return { outcome: { kind: "done", result: await this.finish.succeed(gen, model, attemptNo, out, latency, keyLabel, { after: tail }) }, verdict: "success" };
    } catch (e) {
      await deltas.flush();
      const err = classify(e, provider.id, ctrl.signal.aborted, timeout.aborted);
      const latency = Math.round(performance.now() - t0);
      if (lease) {
        await lease.end({ outcome: keyOutcomeOf(err.kind), retryAfterMs: err.retryAfterSeconds !== undefined ? err.retryAfterSeconds * 1000 : undefined, usedTokens: 0 });
        if (err.kind === "rate_limited" || err.kind === "auth") triedKeys.add(lease.label);
      }
      await d.store.settleAttempt({ generationId: gen.id, attemptNo, status: err.kind === "cancelled" ? "CANCELLED" : "FAILED", latencyMs: latency, costMicros: 0, error: err, keyLabel });
      d.metrics.upstreamAttempts.inc({ provider: provider.id, model: model.id, outcome: err.kind });
      if (task && err.kind !== "cancelled") await this.clearTask(gen);
      const keys = d.keys.keyCount(provider.id);
      return {
        outcome: { kind: "error", err, otherKeys: (err.kind === "rate_limited" && keys > 1) || (err.kind === "auth" && keys > triedKeys.size) },
        // A request that injects its own failures (simulated params.simulate) says nothing about the provider's health.
        verdict: ctrl.signal.aborted || injectsFailure(provider, req) ? "neutral" : verdictOf(err.kind),
      };
    }
  }

  /** An upstream task is running: remember it, report progress, and let a delayed job re-check it. */
  private async pend({ gen, attemptNo, provider, model, followers }: CallContext, task: PendingTask, keyLabel: string | undefined): Promise<RunOutcome> {
    const stored: UpstreamTask = {
      taskId: task.taskId, state: task.state, provider: provider.id, providerModel: model.name, keyLabel, attemptNo,
      startedAt: gen.upstreamTask?.startedAt ?? new Date().toISOString(),
    };
    if (!(await this.d.store.setUpstreamTask(gen, stored))) {
      // Cancelled while the task was being created: stop it upstream too.
      await this.cancelUpstream({ ...gen, upstreamTask: stored } as GenerationEntity);
      return { kind: "skipped", reason: "cancelled while the upstream task started" };
    }
    if (task.progress !== undefined) await this.progress(gen, task.progress, followers);
    return { kind: "recheck", delayMs: Math.max(0, task.checkAfterMs) };
  }

  private async progress(gen: GenerationEntity, p: number, followers: Followers | null): Promise<void> {
    gen.progress = Math.max(0, Math.min(1, p));
    await this.d.store.setProgress(gen, gen.progress);
    await this.emit(gen, { type: "PROGRESS", progress: gen.progress });
    await followers?.progress(gen.progress);
  }

  private async clearTask(gen: GenerationEntity): Promise<void> {
    gen.upstreamTask = null;
    await this.d.store.clearUpstreamTask(gen);
  }
}
