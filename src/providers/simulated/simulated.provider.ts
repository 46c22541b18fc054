import type {
  GenerationProvider,
  GenerationRequest,
  GenerationResult,
  ModelInfo,
  ModerationRequest,
  ModerationVerdict,
  ProviderCall,
  ProviderProbeCall,
} from "../contract";
import { simulatedVerdict } from "./moderation";
import { hangUntilTimeout, injectedError, invalidRequest } from "./failures";
import { planMedia } from "./media-plan";
import { abortError, paced, sleep } from "./pacing";
import { attemptFails, contentRng, requestDigest, type Rng } from "./seeding";
import { parseSimulateOptions, type SimulatedFailure, type SimulateOptions } from "./simulate-options";

/** Faults injected into a whole simulated provider (not per request): drills and benchmarks. */
export interface ProviderFaults {
  /** 0..1: the share of calls that fail. */
  failRate: number;
  failWith: SimulatedFailure;
  /** Added to every call. */
  latencyMs: number;
  retryAfterSeconds?: number;
}
import { SIMULATED_MODELS, SIMULATED_PROVIDER_ID } from "./simulated-models";
import { chunkText, hashedNgramEmbedding, inputTokens, promptText, simulatedAnswer } from "./text";
import { estimateTokens } from "../shared/tokens";

/** Paced steps for media (and 1 for embeddings) when `simulate.steps` is absent. */
const MEDIA_STEPS = 5;

/** Does the (already validated) work once the failure decision has been made. */
type Work = (steps: number | undefined, stopEarly: boolean) => Promise<GenerationResult>;

/**
 * The built-in offline provider: fabricates deterministic text, PNG images, animated-GIF
 * stand-ins for video, WAV tones and hashed embeddings locally. Nothing is sent anywhere.
 * Latency and upstream failures are injected through `params.simulate`
 * (see {@link parseSimulateOptions}); output depends only on the request and `seed`.
 */
export class SimulatedProvider implements GenerationProvider {
  readonly id: string;
  readonly displayName: string;
  readonly simulated = true;
  readonly models: readonly ModelInfo[];
  /** Latency and failure injection never change the output. */
  readonly cacheIgnoredParams = ["simulate"] as const;

  /**
   * @param id another id gives a second, independent simulated provider ("simulated-b/text" …),
   *   for fallback and circuit-breaker drills.
   * @param faults injected faults of the provider or one of its models (fault drills, benchmarks), read on every call.
   */
  constructor(id = SIMULATED_PROVIDER_ID, private readonly faults: (model: string) => ProviderFaults | undefined = () => undefined) {
    this.id = id;
    this.displayName = id === SIMULATED_PROVIDER_ID ? "Simulated (offline, fabricated output)" : `Simulated ${id} (offline, fabricated output)`;
    this.models = id === SIMULATED_PROVIDER_ID ? SIMULATED_MODELS : SIMULATED_MODELS.map((m) => ({ ...m, id: `${id}/${m.name}`, provider: id }));
  }

  /** The fabricated classifier (moderation.ts): flags the `[unsafe]` / `[unsafe:<category>]` marker, nothing else. */
  async moderate(req: ModerationRequest, call: ProviderProbeCall & { timeoutMs: number }): Promise<ModerationVerdict[]> {
    if (call.signal.aborted) throw abortError(call.signal, this.id);
    return req.inputs.map(simulatedVerdict);
  }

  async generate(req: GenerationRequest, call: ProviderCall): Promise<GenerationResult> {
    const model = this.models.find((m) => m.name === req.model);
    if (!model) throw invalidRequest(this.id, `unknown simulated model "${req.model}"`);
    if (model.modality !== req.modality) {
      throw invalidRequest(this.id, `model "${req.model}" does not generate ${req.modality}`);
    }
    let options: SimulateOptions;
    try {
      options = parseSimulateOptions(req.params);
    } catch (err) {
      throw invalidRequest(this.id, (err as Error).message);
    }
    const digest = requestDigest(req);
    const work = this.plan(req, model, call, options, contentRng(digest));
    if (call.signal.aborted) throw abortError(call.signal, this.id);

    // Provider-wide injected faults (a drill): every call fails with probability failRate.
    const fault = this.faults(req.model);
    if (fault && (fault.failRate > 0 || fault.latencyMs > 0)) {
      if (fault.latencyMs > 0) await sleep(fault.latencyMs, call.signal, this.id);
      if (fault.failRate > 0 && Math.random() < fault.failRate) {
        if (fault.failWith === "timeout") return hangUntilTimeout(call, this.id);
        throw injectedError(fault.failWith === "cut_stream" ? "unavailable" : fault.failWith, { ...options, retryAfterSeconds: fault.retryAfterSeconds ?? options.retryAfterSeconds }, this.id);
      }
    }
    const { failWith } = options;
    if (failWith === undefined || !attemptFails(digest, call.attempt, options.failRate)) {
      return work(options.steps, false);
    }
    if (failWith === "timeout") return hangUntilTimeout(call, this.id);
    if (failWith !== "cut_stream") throw injectedError(failWith, options, this.id);
    return work(options.steps, true);
  }

  /** Request-time check (createGeneration): `params.simulate` and the media limits, without doing any work. */
  validateRequest(req: GenerationRequest): string | undefined {
    const model = this.models.find((m) => m.name === req.model);
    if (!model) return `unknown simulated model "${req.model}"`;
    try {
      const idle: ProviderCall = { signal: new AbortController().signal, timeoutMs: 0, attempt: 1, onProgress: () => undefined, onDelta: () => undefined };
      this.plan(req, model, idle, parseSimulateOptions(req.params), () => 0);
      return undefined;
    } catch (err) {
      return (err as Error).message;
    }
  }

  /** Validates the request for its modality (invalid_request) before any latency or failure. */
  private plan(
    req: GenerationRequest,
    model: ModelInfo,
    call: ProviderCall,
    opts: SimulateOptions,
    rng: Rng,
  ): Work {
    const run = (steps: number, stopEarly: boolean, onStep: (step: number) => void): Promise<void> => {
      const stopAfter = stopEarly ? Math.floor(steps / 2) : steps;
      return paced(steps, opts.latencyMs, call.signal, this.id, onStep, stopAfter);
    };
    const cut = (partial = false): never => {
      throw injectedError("cut_stream", opts, this.id, partial);
    };

    if (req.modality === "TEXT") {
      const max = req.text?.maxTokens;
      const limit = model.maxOutputTokens ?? Number.MAX_SAFE_INTEGER;
      if (max !== undefined && (!Number.isInteger(max) || max < 1 || max > limit)) {
        throw invalidRequest(this.id, `text.maxTokens must be an integer in 1..${limit}`);
      }
      return async (steps, stopEarly) => {
        const text = simulatedAnswer(req, rng);
        const chunks = chunkText(text);
        const total = steps ?? chunks.length;
        let sent = 0;
        await run(total, stopEarly, (step) => {
          // One delta per step: a step covers several chunks when steps < chunks.
          const end = Math.round((step * chunks.length) / total);
          if (end > sent) call.onDelta(chunks.slice(sent, end).join(""));
          sent = Math.max(sent, end);
        });
        if (stopEarly) cut(sent > 0);
        const usage = { inputTokens: inputTokens(req), outputTokens: estimateTokens(text) };
        return { text, usage, finishReason: "stop" };
      };
    }
    if (req.modality === "EMBEDDING") {
      return async (steps, stopEarly) => {
        await run(steps ?? 1, stopEarly, () => undefined);
        if (stopEarly) cut();
        return { embedding: hashedNgramEmbedding(promptText(req)), usage: { inputTokens: inputTokens(req) } };
      };
    }
    const render = planMedia(req, rng, this.id);
    return async (steps, stopEarly) => {
      const total = steps ?? MEDIA_STEPS;
      await run(total, stopEarly, (step) => call.onProgress(step / total));
      if (stopEarly) cut();
      return render();
    };
  }
}
