/**
 * Output moderation (MODERATION=output|both) of one attempt that passed output validation: the
 * classifier's verdict is recorded on the generation, and a flagged (or, failing closed,
 * unchecked) output becomes the attempt's error — the caller settles it INVALID, its cost charged.
 * A flag is `content_policy`: retryable (the next candidate) only when the generation asked for
 * `onFlagged: FALLBACK`; the candidate loop never retries it with backoff (runner.ts).
 */
import type { GenerationEntity } from "../../../db/entities/generation.entity";
import type { GenerationRequest, GenerationResult } from "../../../providers/contract";
import type { RunnerDeps } from "./deps";
import type { AttemptError } from "./outcome";

/** The attempt's error when its output may not be served; undefined when it may (or nothing was checked). */
export async function moderateOutput(
  d: RunnerDeps, gen: GenerationEntity, result: GenerationResult, req: GenerationRequest, streamed: boolean,
): Promise<AttemptError | undefined> {
  if (!d.moderation?.checksOutput) return undefined;
  const check = await d.moderation.checkOutput(result, req, gen.moderation ?? null);
  if (check.kind === "skipped") return undefined;
  gen.moderation = check.summary;
  await d.store.setModeration(gen, check.summary);
  // Deltas already streamed are not recalled: a fallback's RESTARTED (partial) or the FAILED event tells the client to drop them.
  if (check.kind === "flagged")
    return {
      kind: "content_policy", retryable: gen.onFlagged === "FALLBACK", partial: streamed,
      message: `content moderation (${check.summary.classifier}) flagged the output: ${check.categories.join(", ")}`,
    };
  if (check.kind === "unavailable") return { kind: "moderation_unavailable", retryable: false, partial: streamed, message: check.reason };
  return undefined;
}
