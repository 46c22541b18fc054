/**
 * The `replicate` adapter: image and video models on Replicate through the official
 * `replicate` SDK (1.4.0). A generation is a prediction: generate() creates it and returns a
 * {@link PendingTask}; poll() reads it until it ends, then downloads its output files
 * ({@link resultFromPrediction}, also used by the webhook route when Replicate calls back
 * with a finished prediction, see {@link verifyReplicateWebhook}).
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
 *   look at the timestamp, so {@link verifyReplicateWebhook} adds the 5-minute window.
 */
import { imageSize } from "image-size";
import Replicate, { parseProgressFromLogs, validateWebhook, type Prediction } from "replicate";
import type { AdapterSettings } from "../adapter-settings";
import {
  ProviderError,
  type GenerateOutcome,
  type GenerationProvider,
  type GenerationRequest,
  type GenerationResult,
  type MediaOutput,
  type PendingTask,
  type ProviderCall,
  type ProviderProbeCall,
} from "../contract";
import { errorFromStatus, messageOf, scrub, toProviderError } from "../errors";

export const REPLICATE_POLL_MIN_MS = 1_000;
export const REPLICATE_POLL_MAX_MS = 30_000;
/** Each re-check of a still-running prediction waits this much longer than the previous one. */
const POLL_GROWTH = 1.5;
/** Webhooks older (or further in the future) than this are refused: replay protection. */
export const WEBHOOK_TOLERANCE_SECONDS = 5 * 60;

/** Mime types for the `type` image-size reports. */
const IMAGE_MIME: Record<string, string> = {
  png: "image/png",
  jpg: "image/jpeg",
  webp: "image/webp",
  gif: "image/gif",
  heif: "image/heif",
  avif: "image/avif",
  bmp: "image/bmp",
  tiff: "image/tiff",
  svg: "image/svg+xml",
};
const VIDEO_MIME: Record<string, string> = { mp4: "video/mp4", webm: "video/webm", mov: "video/quicktime", gif: "image/gif" };

type FetchLike = (input: Request | string, init?: RequestInit) => Promise<Response>;

/**
 * A fetch for one SDK call: one network request at most. A non-2xx answer becomes a
 * ProviderError (body's `detail`, Retry-After kept) and is thrown; so is a network error or
 * an abort. The SDK's automatic retries then call again and get the same error back without
 * another request (see the module comment).
 */
function oneShotFetch(provider: string, extraHeaders: Record<string, string> | undefined): FetchLike {
  let failure: { error: unknown } | undefined;
  return async (input, init) => {
    if (failure) throw failure.error;
    try {
      const headers = { ...extraHeaders, ...(init?.headers as Record<string, string> | undefined) };
      const res = await fetch(input, { ...init, headers });
      if (res.ok) return res;
      const text = await res.text().catch(() => "");
      failure = { error: errorFromStatus(provider, res.status, messageOf(text), res.headers) };
    } catch (e) {
      failure = { error: e };
    }
    throw failure.error;
  };
}

/** "owner/name" → an official model; "owner/name:version" or a bare 64-hex id → a version. */
export function replicateModelRef(model: string): { model: string } | { version: string } {
  const colon = model.indexOf(":");
  if (colon >= 0) return { version: model.slice(colon + 1) };
  if (/^[0-9a-f]{64}$/i.test(model)) return { version: model };
  return { model };
}

function promptOf(req: GenerationRequest): string | undefined {
  if (req.prompt) return req.prompt;
  const texts = (req.messages ?? []).flatMap((m) => m.content.flatMap((p) => (p.type === "text" ? [p.text] : [])));
  return texts.length ? texts.join("\n") : undefined;
}

/**
 * The prediction input: prompt, seed, and for images width, height and num_outputs; then
 * `params.input` (model-specific extras such as aspect_ratio, output_format, or a video
 * model's first_frame_image) on top.
 */
export function replicateInput(req: GenerationRequest): Record<string, unknown> {
  const input: Record<string, unknown> = {};
  const prompt = promptOf(req);
  if (prompt !== undefined) input.prompt = prompt;
  if (req.modality === "IMAGE" && req.image) {
    input.width = req.image.width;
    input.height = req.image.height;
    input.num_outputs = req.image.count;
  }
  if (req.seed !== undefined) input.seed = req.seed;
  const extras = req.params?.input;
  if (extras && typeof extras === "object" && !Array.isArray(extras)) {
    for (const [k, v] of Object.entries(extras as Record<string, unknown>)) if (v !== undefined) input[k] = v;
  }
  return input;
}

/** Every URL (http(s) or data:) in a prediction's output: a string, an array, or an object of them. */
export function outputUrls(output: unknown): string[] {
  if (typeof output === "string") return /^(https?:|data:)/i.test(output) ? [output] : [];
  if (Array.isArray(output)) return output.flatMap(outputUrls);
  if (output && typeof output === "object") return Object.values(output).flatMap(outputUrls);
  return [];
}

const badResponse = (provider: string, what: string): ProviderError =>
  new ProviderError({ provider, kind: "bad_response", message: `${provider} sent a malformed response: ${what}` });

function errorText(error: unknown): string {
  if (error == null) return "";
  if (typeof error === "string") return error;
  return messageOf(error);
}

/** Downloads one output (or decodes a data: URI). The key goes only to the API's own origin. */
async function fetchOutput(
  provider: string, url: string, signal: AbortSignal, apiKey: string | undefined, authOrigin: string | undefined,
): Promise<{ data: Buffer; contentType: string }> {
  if (url.startsWith("data:")) {
    const m = /^data:([^;,]*)(;base64)?,(.*)$/s.exec(url);
    if (!m) throw badResponse(provider, "an output data: URI cannot be read");
    const data = m[2] ? Buffer.from(m[3], "base64") : Buffer.from(decodeURIComponent(m[3]), "utf8");
    return { data, contentType: m[1] };
  }
  const sameOrigin = authOrigin !== undefined && new URL(url).origin === authOrigin;
  const res = await fetch(url, { signal, headers: sameOrigin && apiKey ? { authorization: `Bearer ${apiKey}` } : {} });
  if (!res.ok) {
    throw new ProviderError({ provider, kind: "unavailable", status: res.status, message: `${provider}: downloading an output file failed with HTTP ${res.status}` });
  }
  const data = Buffer.from(await res.arrayBuffer());
  if (data.length === 0) throw badResponse(provider, "an output file is empty");
  return { data, contentType: (res.headers.get("content-type") ?? "").split(";")[0].trim() };
}

function extensionOf(url: string): string {
  if (url.startsWith("data:")) return "";
  return /\.([a-z0-9]+)$/i.exec(new URL(url).pathname)?.[1]?.toLowerCase() ?? "";
}

/**
 * Finishes a generation from a prediction that has ended, with no call to the Replicate API:
 * poll() uses it, and so does the webhook route, which gets the finished prediction as the
 * webhook body (verify it first with {@link verifyReplicateWebhook}, then
 * `resultFromPrediction(JSON.parse(rawBody), req, { signal })`).
 *
 * - `succeeded`: every output URL is downloaded (with `call.signal`); IMAGE outputs get their
 *   mime type, width and height from the bytes (image-size), VIDEO outputs a mime type from
 *   the Content-Type or extension and `durationSeconds` from the request. Usage: images
 *   (IMAGE) or seconds (VIDEO).
 * - `failed`: ProviderError `content_policy` when the error names NSFW/safety, otherwise
 *   `bad_response` (retryable: a crashed run may well succeed again).
 * - `canceled`: `cancelled`; `aborted` (ended before it started, e.g. a deadline): `timeout`.
 * - still `starting`/`processing`, or not a prediction at all: `bad_response`.
 *
 * `call.apiKey` is only sent to output URLs on `authOrigin` (the API's origin, for files it
 * serves itself); delivery CDN URLs get no key.
 */
export async function resultFromPrediction(
  prediction: Prediction,
  req: GenerationRequest,
  call: { signal: AbortSignal; apiKey?: string },
  options: { provider?: string; authOrigin?: string } = {},
): Promise<GenerationResult> {
  const provider = options.provider ?? "replicate";
  if (!prediction || typeof prediction !== "object" || typeof prediction.id !== "string" || typeof prediction.status !== "string") {
    throw badResponse(provider, "not a prediction");
  }
  const { id, status } = prediction;
  if (status === "failed") {
    const why = scrub(errorText(prediction.error)) || "no error message";
    const content = /nsfw|safety|sensitive|content[_ ]?(policy|filter)|flagged/i.test(why);
    throw new ProviderError({ provider, kind: content ? "content_policy" : "bad_response", message: `${provider} prediction ${id} failed: ${why}` });
  }
  if (status === "canceled") throw new ProviderError({ provider, kind: "cancelled", message: `${provider} prediction ${id} was canceled` });
  if (status === "aborted") throw new ProviderError({ provider, kind: "timeout", message: `${provider} prediction ${id} was aborted before it ran` });
  if (status !== "succeeded") throw badResponse(provider, `prediction ${id} has not finished (status "${scrub(String(status))}")`);

  const urls = outputUrls(prediction.output);
  if (urls.length === 0) throw badResponse(provider, `prediction ${id} succeeded without an output file`);
  try {
    const files = await Promise.all(urls.map((u) => fetchOutput(provider, u, call.signal, call.apiKey, options.authOrigin)));
    if (req.modality === "VIDEO") {
      const durationSeconds = req.video?.durationSeconds;
      const media: MediaOutput[] = files.map((f, i) => {
        const fromType = /^(video\/|image\/gif)/.test(f.contentType) ? f.contentType : undefined;
        const mimeType = fromType ?? VIDEO_MIME[extensionOf(urls[i])] ?? "video/mp4";
        return { data: f.data, mimeType, ...(durationSeconds !== undefined ? { durationSeconds } : {}) };
      });
      return { media, usage: durationSeconds !== undefined ? { seconds: durationSeconds * media.length } : {} };
    }
    const media: MediaOutput[] = files.map((f) => {
      let dims: { width: number; height: number; type?: string };
      try {
        dims = imageSize(f.data);
      } catch {
        throw badResponse(provider, `prediction ${id} output is not an image`);
      }
      const mimeType = (dims.type && IMAGE_MIME[dims.type]) || f.contentType || "application/octet-stream";
      return { data: f.data, mimeType, width: dims.width, height: dims.height };
    });
    return { media, usage: { images: media.length } };
  } catch (e) {
    throw toProviderError(provider, e, call.signal);
  }
}

type HeaderBag = Headers | Record<string, string | string[] | undefined>;

function headerOf(h: HeaderBag, name: string): string | undefined {
  if (typeof (h as Headers).get === "function") return (h as Headers).get(name) ?? undefined;
  const bag = h as Record<string, string | string[] | undefined>;
  const key = Object.keys(bag).find((k) => k.toLowerCase() === name);
  const v = key === undefined ? undefined : bag[key];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * Checks a Replicate webhook (standard-webhooks scheme): `webhook-signature` must hold an
 * HMAC-SHA256 of `${webhook-id}.${webhook-timestamp}.${rawBody}` under the signing secret
 * ("whsec_…", from GET /v1/webhooks/default/secret), checked with the SDK's
 * `validateWebhook`; and `webhook-timestamp` (unix seconds) must be within 5 minutes of
 * `now`, which the SDK does not check (replays). `rawBody` must be the bytes as received,
 * not re-serialised JSON. Async because the SDK's check uses WebCrypto. Never throws: a
 * missing header, a bad secret or a wrong signature is simply `false`.
 */
export async function verifyReplicateWebhook(
  headers: HeaderBag, rawBody: string | Buffer, secret: string, now: number = Date.now(),
): Promise<boolean> {
  const id = headerOf(headers, "webhook-id");
  const timestamp = headerOf(headers, "webhook-timestamp");
  const signature = headerOf(headers, "webhook-signature");
  const body = typeof rawBody === "string" ? rawBody : rawBody.toString("utf8");
  if (!id || !timestamp || !signature || !secret || !body) return false;
  const ts = Number(timestamp);
  if (!/^\d+$/.test(timestamp) || Math.abs(now / 1000 - ts) > WEBHOOK_TOLERANCE_SECONDS) return false;
  try {
    return await validateWebhook({ id, timestamp, signature, body, secret });
  } catch {
    return false;
  }
}

/** Creates the Replicate adapter; with `webhookUrl`, Replicate also calls it when a prediction completes. */
export function createReplicateProvider(settings: AdapterSettings & { webhookUrl?: string }): GenerationProvider {
  const id = settings.id;
  const root = settings.baseUrl.replace(/\/+$/, "");
  const apiBase = /\/v1$/.test(root) ? root : `${root}/v1`;
  const authOrigin = new URL(apiBase).origin;
  const pollMin = settings.pollMinMs ?? REPLICATE_POLL_MIN_MS;
  const pollMax = Math.max(pollMin, settings.pollMaxMs ?? REPLICATE_POLL_MAX_MS);

  /** A client for exactly one SDK call (see oneShotFetch); refuses to run without a key. */
  const client = (apiKey: string | undefined): Replicate => {
    if (!apiKey) throw new ProviderError({ provider: id, kind: "auth", message: `${id} needs an API key` });
    return new Replicate({ auth: apiKey, baseUrl: apiBase, userAgent: "switchboard", fetch: oneShotFetch(id, settings.headers) });
  };

  const checked = (p: unknown): Prediction => {
    const x = p as Prediction | undefined;
    if (!x || typeof x !== "object" || typeof x.id !== "string" || !x.id || typeof x.status !== "string") {
      throw badResponse(id, "the answer is not a prediction");
    }
    return x;
  };

  const progressOf = (p: Prediction, polls: number): number => {
    const parsed = parseProgressFromLogs(p);
    if (parsed && Number.isFinite(parsed.percentage)) return Math.min(0.99, Math.max(0, parsed.percentage));
    return p.status === "starting" ? 0.02 : Math.min(0.9, 0.1 + 0.1 * polls);
  };

  /** A prediction as this adapter's outcome: still pending, or finished (files fetched). */
  const outcome = async (p: Prediction, polls: number, req: GenerationRequest, call: ProviderCall): Promise<GenerateOutcome> => {
    if (p.status === "starting" || p.status === "processing") {
      const progress = progressOf(p, polls);
      call.onProgress(progress);
      const checkAfterMs = polls === 0 ? pollMin : Math.min(pollMax, Math.round(pollMin * POLL_GROWTH ** polls));
      return { pending: true, taskId: p.id, state: { polls }, checkAfterMs, progress };
    }
    const result = await resultFromPrediction(p, req, call, { provider: id, authOrigin });
    call.onProgress(1);
    return result;
  };

  return {
    id,
    displayName: settings.displayName,
    simulated: false,
    models: settings.models,
    /** Replicate is a hosted API: every call carries a key from the pool. */
    requiresKey: true,

    validateRequest(req) {
      if (req.modality !== "IMAGE" && req.modality !== "VIDEO") return `${id} generates IMAGE or VIDEO, not ${req.modality}`;
      const extras = req.params?.input;
      if (extras !== undefined && (typeof extras !== "object" || extras === null || Array.isArray(extras))) {
        return "params.input must be an object of model inputs";
      }
      return undefined;
    },

    /** Creates the prediction; usually pending (a prediction that already ended is finished at once). */
    async generate(req, call) {
      try {
        const webhook = settings.webhookUrl ? { webhook: settings.webhookUrl, webhook_events_filter: ["completed" as const] } : {};
        const created = await client(call.apiKey).predictions.create({
          ...replicateModelRef(req.model),
          input: replicateInput(req),
          ...webhook,
          signal: call.signal,
        });
        return await outcome(checked(created), 0, req, call);
      } catch (e) {
        throw toProviderError(id, e, call.signal);
      }
    },

    /**
     * Reads the prediction: running → pending again, each wait POLL_GROWTH× the previous
     * (capped at pollMaxMs), progress from the tqdm lines in its logs when there are any;
     * ended → {@link resultFromPrediction}.
     */
    async poll(task: PendingTask, req, call) {
      const polls = (typeof task.state?.polls === "number" ? task.state.polls : 0) + 1;
      try {
        const p = checked(await client(call.apiKey).predictions.get(task.taskId, { signal: call.signal }));
        return await outcome(p, polls, req, call);
      } catch (e) {
        throw toProviderError(id, e, call.signal);
      }
    },

    /** POST /v1/predictions/{id}/cancel (best effort; a prediction that already ended stays as it was). */
    async cancelTask(task: PendingTask, call: ProviderProbeCall) {
      try {
        await client(call.apiKey).predictions.cancel(task.taskId, { signal: call.signal });
      } catch (e) {
        throw toProviderError(id, e, call.signal);
      }
    },

    /** GET /v1/account: authenticated, free, and tiny. */
    async healthCheck(call: ProviderProbeCall) {
      try {
        await client(call.apiKey).accounts.current({ signal: call.signal });
      } catch (e) {
        throw toProviderError(id, e, call.signal);
      }
    },
  };
}
