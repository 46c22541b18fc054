/**
 * How a run ends a generation: success (media → store → cache → group → publish) and failure
 * (store → group → publish). The store's conditional update decides whether this run still
 * owned the generation; only then is its terminal event published, after the commit.
 */
import type { GenerationEntity, StoredOutput } from "../../../db/entities/generation.entity";
import type { GenerationResult, ModelInfo } from "../../../providers/contract";
import { countTerminal, countTokens } from "../../monitoring/generation-metrics";
import { finishFollowers, type GroupOutcome } from "../coalesced-group";
import { batchCostOf, costOf } from "../pricing";
import { toRequest } from "./to-request";
import type { Emit, RunnerDeps } from "./deps";
import { errorCode, superseded, type AttemptError, type RunOutcome } from "./outcome";

const EXT: Record<string, string> = { "image/png": "png", "image/gif": "gif", "audio/wav": "wav", "video/mp4": "mp4", "image/jpeg": "jpg", "image/webp": "webp", "audio/mpeg": "mp3" };

export class Finish {
  constructor(private readonly d: RunnerDeps, private readonly emit: Emit) {}

  /**
   * `batch`: the call went through the provider's batch API (domain/batches/), charged at the batch price.
   * `after`: the call's last deltas, key release and breaker verdict, still going out while the success statement runs;
   * waited for once it committed, before anything else of the group or the SUCCEEDED event (so the stream keeps its
   * order). Once the answer is committed a failure there is logged, not the run's: the key's lease and the verdict lapse.
   */
  async succeed(
    gen: GenerationEntity, model: ModelInfo, attemptNo: number, result: GenerationResult, latencyMs: number, keyLabel?: string,
    opts: { batch?: boolean; after?: Promise<unknown> } = {},
  ): Promise<RunOutcome> {
    const { d } = this;
    const output = await this.storeOutput(gen, result);
    const cost = opts.batch ? batchCostOf(model, result.usage) : costOf(model, result.usage);
    d.metrics.upstreamAttempts.inc({ provider: model.provider, model: model.id, outcome: "ok" });
    countTokens(d.metrics, model.provider, model.id, result.usage);
    const done = await d.store.succeed({ gen, attemptNo, output, latencyMs, costMicros: cost, keyLabel });
    await opts.after?.catch((err) => d.log.warn({ err, generationId: gen.id }, "the last deltas, key release or breaker verdict of a committed answer failed"));
    if (done && d.cfg.faultExitAfterTerminalCommit && d.registry.provider(model.provider)?.simulated) process.kill(process.pid, "SIGKILL");
    // Fill the cache before the in-flight key goes, so an identical request finds one or the other (the write goes on
    // while the followers' statement runs; the key goes after both).
    const cached = done?.cacheKey
      ? d.cache.exact
        .set(done.cacheKey, done.modality, { sourceGenerationId: done.id, model: done.model, output, createdAt: new Date().toISOString() })
        .catch((err) => d.log.warn({ err, generationId: done.id }, "cache write failed"))
      : undefined;
    // Followers get the answer even when the leader was cancelled meanwhile (one of them paid).
    const { shared, released } = await this.endGroup(gen, { status: "SUCCEEDED", output }, cached);
    if (!done) {
      await released;
      if (!shared) for (const f of output.files ?? []) await d.blobs.delete(f.key).catch(() => undefined);
      return superseded();
    }
    // The semantic entry is written before SUCCEEDED, so a caller that saw it finish finds it (like the exact cache).
    if (done.semanticScope)
      await d.cache.semantic.add(done, toRequest(done), output).catch((err) => d.log.warn({ err, generationId: done.id }, "semantic cache write failed"));
    await Promise.all([this.emit(done, { type: "SUCCEEDED" }), released]);
    d.quotas.changed(done.userId, false);
    countTerminal(d.metrics, done);
    return { kind: "finished", status: "SUCCEEDED" };
  }

  async fail(gen: GenerationEntity, err: AttemptError, code = errorCode(err.kind)): Promise<RunOutcome> {
    const { d } = this;
    const row = await d.store.fail(gen, code, err.message);
    const { released } = await this.endGroup(gen, { status: "FAILED", code, message: err.message });
    if (!row) return released.then(() => superseded());
    await Promise.all([this.emit(row, { type: "FAILED", message: err.message }), released]);
    d.quotas.changed(row.userId, false);
    countTerminal(d.metrics, row);
    return { kind: "finished", status: "FAILED" };
  }

  /** The output as stored: media go to the blob store, the row keeps their keys. */
  private async storeOutput(gen: GenerationEntity, result: GenerationResult): Promise<StoredOutput> {
    const output: StoredOutput = { usage: result.usage, finishReason: result.finishReason };
    if (result.text !== undefined) output.text = result.text;
    if (result.toolCalls?.length) output.toolCalls = result.toolCalls;
    if (result.embedding) output.embedding = result.embedding;
    if (result.media?.length) {
      output.files = [];
      for (const [i, m] of result.media.entries()) {
        const key = `${gen.id}/${gen.runAttempt}-${i}.${EXT[m.mimeType] ?? "bin"}`;
        await this.d.blobs.put(key, m.data, m.mimeType);
        output.files.push({ key, mimeType: m.mimeType, sizeBytes: m.data.length, width: m.width, height: m.height, durationSeconds: m.durationSeconds });
      }
    }
    return output;
  }

  /**
   * The group's work is over: its followers end the same way (how many: `shared`) and the in-flight key is dropped, once
   * `cached` (the cache write) is done; `released` resolves when it is (it goes out beside the leader's terminal event).
   */
  private async endGroup(gen: GenerationEntity, outcome: GroupOutcome, cached?: Promise<unknown>): Promise<{ shared: number; released: Promise<unknown> }> {
    const { d } = this;
    const key = gen.cacheKey;
    if (!key) return { shared: 0, released: Promise.resolve() };
    const done = await finishFollowers(d.store, d.events, d.quotas, gen.id, outcome);
    for (const g of done) countTerminal(d.metrics, g);
    await cached;
    return { shared: done.length, released: d.cache.coalescer.release(key, gen.id).catch(() => undefined) };
  }
}
