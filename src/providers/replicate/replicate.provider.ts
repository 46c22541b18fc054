/**
 * The `replicate` adapter: image and video models on Replicate through the official
 * `replicate` SDK (1.4.0). A generation is a prediction: generate() creates it and returns a
 * {@link PendingTask}; poll() reads it until it ends, then downloads its output files
 * (resultFromPrediction in prediction.ts, also used by the webhook route when Replicate calls
 * back with a finished prediction, see verifyReplicateWebhook in webhook.ts). The request
 * mapping is request.ts; the one-request fetch is one-shot-fetch.ts.
 *
 * SDK quirks this adapter works around (checked in node_modules/replicate 1.4.0):
 * - `Replicate#request()` wraps every call in `withAutomaticRetries`: 429 is retried for every
 *   method and 5xx for GETs, 5 retries, and no option turns it off. Its backoff is broken (the
 *   delay carries float jitter, so `Number.isInteger(delay)` is false and it never sleeps)
 *   and it never honours Retry-After (it only looks for it on a thrown ApiError, which fetch
 *   never throws): a 429 became 6 requests in ~50 ms against the fake. Retries belong to our
 *   runner, so each SDK call gets a fresh client whose `fetch` (the one documented hook)
 *   makes a single network request: any failure — a non-2xx answer, mapped right there to a
 *   ProviderError with Retry-After, or a network error/abort — is thrown, and the SDK's
 *   retries (it also retries whatever fetch throws) get that same error replayed without
 *   touching the network, so it surfaces after exactly one request.
 * - Without `auth` the SDK silently falls back to the REPLICATE_API_TOKEN environment variable; we
 *   refuse to call without a key from the pool instead.
 * - `validateWebhook` is async (WebCrypto) and compares signatures with `===`; it does not
 *   look at the timestamp, so verifyReplicateWebhook (webhook.ts) adds the 5-minute window.
 */
import Replicate, { type Prediction } from "replicate";
import type { AdapterSettings } from "../adapter-settings";
import type { GenerateOutcome, GenerationProvider, GenerationRequest, PendingTask, ProviderCall, ProviderProbeCall } from "../contract";
import { AdapterBase } from "../shared/adapter-base";
import { toProviderError } from "../shared/errors";
import { requireKey } from "../shared/keys";
import { nextCheckMs, pollBackoff, pollNumber, type PollBackoff } from "../shared/poll";
import { oneShotFetch } from "./one-shot-fetch";
import { checkedPrediction, predictionProgress, resultFromPrediction } from "./prediction";
import { replicateInput, replicateModelRef, validateReplicateRequest } from "./request";

export const REPLICATE_POLL_MIN_MS = 1_000;
export const REPLICATE_POLL_MAX_MS = 30_000;

export class ReplicateProvider extends AdapterBase implements GenerationProvider {
  /** Replicate is a hosted API: every call carries a key from the pool. */
  override readonly requiresKey = true;
  private readonly apiBase: string;
  private readonly authOrigin: string;
  private readonly backoff: PollBackoff;

  /** With `webhookUrl`, Replicate also calls it when a prediction completes. */
  constructor(private readonly settings: AdapterSettings & { webhookUrl?: string }) {
    super(settings);
    const root = settings.baseUrl.replace(/\/+$/, "");
    this.apiBase = /\/v1$/.test(root) ? root : `${root}/v1`;
    this.authOrigin = new URL(this.apiBase).origin;
    this.backoff = pollBackoff(settings, REPLICATE_POLL_MIN_MS, REPLICATE_POLL_MAX_MS);
  }

  validateRequest(req: GenerationRequest): string | undefined {
    return validateReplicateRequest(this.id, req);
  }

  /** Creates the prediction; usually pending (a prediction that already ended is finished at once). */
  async generate(req: GenerationRequest, call: ProviderCall): Promise<GenerateOutcome> {
    try {
      const webhook = this.settings.webhookUrl ? { webhook: this.settings.webhookUrl, webhook_events_filter: ["completed" as const] } : {};
      const created = await this.client(call.apiKey).predictions.create({
        ...replicateModelRef(req.model),
        input: replicateInput(req),
        ...webhook,
        signal: call.signal,
      });
      return await this.outcome(checkedPrediction(this.id, created), 0, req, call);
    } catch (e) {
      throw toProviderError(this.id, e, call.signal);
    }
  }

  /**
   * Reads the prediction: running → pending again, each wait POLL_GROWTH× the previous
   * (capped at pollMaxMs), progress from the tqdm lines in its logs when there are any;
   * ended → resultFromPrediction.
   */
  async poll(task: PendingTask, req: GenerationRequest, call: ProviderCall): Promise<GenerateOutcome> {
    const polls = pollNumber(task);
    try {
      const p = checkedPrediction(this.id, await this.client(call.apiKey).predictions.get(task.taskId, { signal: call.signal }));
      return await this.outcome(p, polls, req, call);
    } catch (e) {
      throw toProviderError(this.id, e, call.signal);
    }
  }

  /** POST /v1/predictions/{id}/cancel (best effort; a prediction that already ended stays as it was). */
  async cancelTask(task: PendingTask, call: ProviderProbeCall): Promise<void> {
    try {
      await this.client(call.apiKey).predictions.cancel(task.taskId, { signal: call.signal });
    } catch (e) {
      throw toProviderError(this.id, e, call.signal);
    }
  }

  /** GET /v1/account: authenticated, free, and tiny. */
  async healthCheck(call: ProviderProbeCall): Promise<void> {
    try {
      await this.client(call.apiKey).accounts.current({ signal: call.signal });
    } catch (e) {
      throw toProviderError(this.id, e, call.signal);
    }
  }

  /** A client for exactly one SDK call (see oneShotFetch); refuses to run without a key. */
  private client(apiKey: string | undefined): Replicate {
    const auth = requireKey(this.id, apiKey) as string;
    return new Replicate({ auth, baseUrl: this.apiBase, userAgent: "switchboard", fetch: oneShotFetch(this.id, this.settings.headers) });
  }

  /** A prediction as this adapter's outcome: still pending, or finished (files fetched). */
  private async outcome(p: Prediction, polls: number, req: GenerationRequest, call: ProviderCall): Promise<GenerateOutcome> {
    if (p.status === "starting" || p.status === "processing") {
      const progress = predictionProgress(p, polls);
      call.onProgress(progress);
      return { pending: true, taskId: p.id, state: { polls }, checkAfterMs: nextCheckMs(this.backoff, polls), progress };
    }
    const result = await resultFromPrediction(p, req, call, { provider: this.id, authOrigin: this.authOrigin });
    call.onProgress(1);
    return result;
  }
}
