/**
 * Content safety (MODERATION=off|input|output|both): classifies a request's texts at admission
 * and an attempt's output before it may succeed, with one {@link Classifier}. It decides nothing
 * about generations itself: it answers clean / flagged / unavailable (with the summary to store),
 * and GenerationService (admission) and the runner (attempts) act on that. Counted in
 * switchboard_moderation_* metrics.
 */
import type { ModerationStage, StoredModeration } from "../../db/entities/generation.entity";
import type { Logger } from "../../observability/logger";
import type { Metrics } from "../../observability/metrics";
import type { GenerationRequest, GenerationResult } from "../../providers/contract";
import type { Classifier } from "./classifier";
import { inputTexts, outputTexts } from "./moderation-texts";

export interface ModerationConfig {
  mode: "off" | "input" | "output" | "both";
  onError: "closed" | "open";
  timeoutMs: number;
}

export type ModerationCheck =
  /** Nothing to check (the stage is off, or no text): the summary is unchanged. */
  | { kind: "skipped" }
  | { kind: "clean"; summary: StoredModeration }
  | { kind: "flagged"; categories: string[]; summary: StoredModeration }
  /** The classifier failed and MODERATION_ON_ERROR=closed: refuse. (Open: `clean` with the stage in `unchecked`.) */
  | { kind: "unavailable"; reason: string; summary: StoredModeration };

const rejectOnAbort = (signal: AbortSignal): Promise<never> =>
  new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason), { once: true }));

const union = <T>(a: readonly T[], b: readonly T[]): T[] => [...new Set([...a, ...b])];

export class ModerationService {
  constructor(private readonly d: { cfg: ModerationConfig; classifier: Classifier; metrics: Metrics; log: Logger }) {}

  get checksInput(): boolean {
    return this.d.cfg.mode === "input" || this.d.cfg.mode === "both";
  }

  get checksOutput(): boolean {
    return this.d.cfg.mode === "output" || this.d.cfg.mode === "both";
  }

  /** The request's texts, at admission. */
  checkInput(req: GenerationRequest): Promise<ModerationCheck> {
    return this.checksInput ? this.check("INPUT", inputTexts(req), null) : Promise.resolve({ kind: "skipped" });
  }

  /** An attempt's output, before SUCCEEDED; `prior`: what the generation has recorded so far. */
  checkOutput(result: GenerationResult, req: GenerationRequest, prior: StoredModeration | null): Promise<ModerationCheck> {
    return this.checksOutput ? this.check("OUTPUT", outputTexts(result, req), prior) : Promise.resolve({ kind: "skipped" });
  }

  private async check(stage: ModerationStage, texts: string[], prior: StoredModeration | null): Promise<ModerationCheck> {
    if (!texts.length) return { kind: "skipped" };
    const { metrics, classifier, cfg } = this.d;
    const base: StoredModeration = prior ?? { flagged: false, stage: null, categories: [], flaggedAttempts: 0, checked: [], unchecked: [], classifier: classifier.id };
    const label = stage.toLowerCase();
    const t0 = performance.now();
    let verdicts;
    try {
      // The timeout holds even for a classifier that ignores its signal.
      const signal = AbortSignal.timeout(cfg.timeoutMs);
      verdicts = await Promise.race([classifier.classify(texts, signal, cfg.timeoutMs), rejectOnAbort(signal)]);
      if (verdicts.length !== texts.length) throw new Error(`the classifier answered ${verdicts.length} verdicts for ${texts.length} texts`);
    } catch (err) {
      metrics.moderationChecks.inc({ stage: label, outcome: "error" });
      const reason = (err as Error)?.name === "TimeoutError" ? `did not answer within ${cfg.timeoutMs} ms` : (err as Error)?.message ?? String(err);
      this.d.log.warn({ err, stage, classifier: classifier.id, onError: cfg.onError }, "content moderation failed");
      const summary = { ...base, unchecked: union(base.unchecked, [stage]) };
      return cfg.onError === "open" ? { kind: "clean", summary } : { kind: "unavailable", reason: `content moderation (${classifier.id}) is unavailable: ${reason}`, summary };
    } finally {
      metrics.moderationSeconds.observe({ stage: label }, (performance.now() - t0) / 1000);
    }
    const checked = union(base.checked, [stage]);
    const flagged = verdicts.filter((v) => v.flagged);
    if (!flagged.length) {
      metrics.moderationChecks.inc({ stage: label, outcome: "clean" });
      return { kind: "clean", summary: { ...base, checked } };
    }
    const categories = [...new Set(flagged.flatMap((v) => (v.categories.length ? v.categories : ["flagged"])))].sort();
    metrics.moderationChecks.inc({ stage: label, outcome: "flagged" });
    for (const category of categories) metrics.moderationFlags.inc({ stage: label, category });
    return {
      kind: "flagged", categories,
      summary: { ...base, checked, flagged: true, stage, categories: union(base.categories, categories).sort(), flaggedAttempts: base.flaggedAttempts + (stage === "OUTPUT" ? 1 : 0) },
    };
  }
}
