/** A Replicate prediction read: still running (progress), or ended (its output files as our result). */
import { parseProgressFromLogs, type Prediction } from "replicate";
import { ProviderError, type GenerationRequest, type GenerationResult, type MediaOutput } from "../contract";
import { malformedResponse, messageOf, scrub, toProviderError } from "../shared/errors";
import { imageInfo } from "../shared/media";

const VIDEO_MIME: Record<string, string> = { mp4: "video/mp4", webm: "video/webm", mov: "video/quicktime", gif: "image/gif" };

/** An answer that should be a prediction; bad_response when it is not one. */
export function checkedPrediction(provider: string, p: unknown): Prediction {
  const x = p as Prediction | undefined;
  if (!x || typeof x !== "object" || typeof x.id !== "string" || !x.id || typeof x.status !== "string") {
    throw malformedResponse(provider, "the answer is not a prediction");
  }
  return x;
}

/** 0..1 for a running prediction: from the tqdm lines in its logs when there are any, else a rough guess by re-check count. */
export function predictionProgress(p: Prediction, polls: number): number {
  const parsed = parseProgressFromLogs(p);
  if (parsed && Number.isFinite(parsed.percentage)) return Math.min(0.99, Math.max(0, parsed.percentage));
  return p.status === "starting" ? 0.02 : Math.min(0.9, 0.1 + 0.1 * polls);
}

/** Every URL (http(s) or data:) in a prediction's output: a string, an array, or an object of them. */
export function outputUrls(output: unknown): string[] {
  if (typeof output === "string") return /^(https?:|data:)/i.test(output) ? [output] : [];
  if (Array.isArray(output)) return output.flatMap(outputUrls);
  if (output && typeof output === "object") return Object.values(output).flatMap(outputUrls);
  return [];
}

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
    if (!m) throw malformedResponse(provider, "an output data: URI cannot be read");
    const data = m[2] ? Buffer.from(m[3], "base64") : Buffer.from(decodeURIComponent(m[3]), "utf8");
    return { data, contentType: m[1] };
  }
  const sameOrigin = authOrigin !== undefined && new URL(url).origin === authOrigin;
  const res = await fetch(url, { signal, headers: sameOrigin && apiKey ? { authorization: `Bearer ${apiKey}` } : {} });
  if (!res.ok) {
    throw new ProviderError({ provider, kind: "unavailable", status: res.status, message: `${provider}: downloading an output file failed with HTTP ${res.status}` });
  }
  const data = Buffer.from(await res.arrayBuffer());
  if (data.length === 0) throw malformedResponse(provider, "an output file is empty");
  return { data, contentType: (res.headers.get("content-type") ?? "").split(";")[0].trim() };
}

function extensionOf(url: string): string {
  if (url.startsWith("data:")) return "";
  return /\.([a-z0-9]+)$/i.exec(new URL(url).pathname)?.[1]?.toLowerCase() ?? "";
}

/**
 * Finishes a generation from a prediction that has ended, with no call to the Replicate API:
 * poll() uses it, and so does the webhook route, which gets the finished prediction as the
 * webhook body (verify it first with verifyReplicateWebhook (webhook.ts), then
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
    throw malformedResponse(provider, "not a prediction");
  }
  const { id, status } = prediction;
  if (status === "failed") {
    const why = scrub(errorText(prediction.error)) || "no error message";
    const content = /nsfw|safety|sensitive|content[_ ]?(policy|filter)|flagged/i.test(why);
    throw new ProviderError({ provider, kind: content ? "content_policy" : "bad_response", message: `${provider} prediction ${id} failed: ${why}` });
  }
  if (status === "canceled") throw new ProviderError({ provider, kind: "cancelled", message: `${provider} prediction ${id} was canceled` });
  if (status === "aborted") throw new ProviderError({ provider, kind: "timeout", message: `${provider} prediction ${id} was aborted before it ran` });
  if (status !== "succeeded") throw malformedResponse(provider, `prediction ${id} has not finished (status "${scrub(String(status))}")`);

  const urls = outputUrls(prediction.output);
  if (urls.length === 0) throw malformedResponse(provider, `prediction ${id} succeeded without an output file`);
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
      let info: ReturnType<typeof imageInfo>;
      try {
        info = imageInfo(f.data);
      } catch {
        throw malformedResponse(provider, `prediction ${id} output is not an image`);
      }
      const mimeType = info.mimeType || f.contentType || "application/octet-stream";
      return { data: f.data, mimeType, width: info.width, height: info.height };
    });
    return { media, usage: { images: media.length } };
  } catch (e) {
    throw toProviderError(provider, e, call.signal);
  }
}
