/**
 * MiniMax's answers: bodies whose `base_resp.status_code ≠ 0` are errors (usually with HTTP
 * 200), task ids, task states, and the finished video as our result.
 */
import { ProviderError, type GenerationRequest, type GenerationResult } from "../contract";
import { malformedResponse, parseRetryAfter, scrub } from "../shared/errors";
import { DEFAULT_DURATION_SECONDS } from "./request";

type Body = Record<string, unknown>;
interface BaseResp {
  status_code?: unknown;
  status_msg?: unknown;
}

/** Task states MiniMax reports while a video is still being made. */
const RUNNING: Record<string, number> = { Preparing: 0.02, Queueing: 0.05, Processing: 0.1 };

/**
 * A `base_resp.status_code` other than 0 (MiniMax's in-body error, usually with HTTP 200) as
 * a {@link ProviderError}: 1002/1039 rate limits (RPM/TPM) → rate_limited; 1004/2049 bad or
 * missing key → auth; 1026/1027 sensitive input/output → content_policy; 1008 insufficient
 * balance → invalid_request, not retryable (retrying cannot help until someone pays);
 * 2013 invalid parameters → invalid_request; anything else (1000 unknown, 1001 timeout,
 * 1013 internal error …) → unavailable.
 */
export function minimaxCodeError(provider: string, code: number, statusMsg: string, headers?: Headers): ProviderError {
  const message = `${provider} answered status_code ${code}: ${scrub(statusMsg) || "no message"}`;
  const retryAfterSeconds = parseRetryAfter(headers?.get("retry-after"));
  switch (code) {
    case 1002:
    case 1039:
      return new ProviderError({ provider, kind: "rate_limited", message, retryAfterSeconds });
    case 1004:
    case 2049:
      return new ProviderError({ provider, kind: "auth", message });
    case 1026:
    case 1027:
      return new ProviderError({ provider, kind: "content_policy", message });
    case 1008:
      return new ProviderError({ provider, kind: "invalid_request", message, retryable: false });
    case 2013:
      return new ProviderError({ provider, kind: "invalid_request", message });
    default:
      return new ProviderError({ provider, kind: "unavailable", message, retryAfterSeconds });
  }
}

/** A 2xx body: a JSON object whose base_resp says success, else a ProviderError. */
export function minimaxBody(provider: string, text: string, headers: Headers): Body {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw malformedResponse(provider, `not JSON (${scrub(text.slice(0, 80))})`);
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw malformedResponse(provider, "not a JSON object");
  const b = parsed as Body;
  const br = b.base_resp as BaseResp | undefined;
  if (br && typeof br.status_code === "number" && br.status_code !== 0) {
    throw minimaxCodeError(provider, br.status_code, typeof br.status_msg === "string" ? br.status_msg : "", headers);
  }
  return b;
}

/** A string or number id field as a string ("" when absent). */
export function idOf(v: unknown): string {
  return typeof v === "string" || typeof v === "number" ? String(v) : "";
}

/** What a task query says: finished (its file id), or still running (progress). Fail and unknown states throw. */
export type TaskState = { done: true; fileId: string } | { done: false; progress: number };

/** A query/video_generation answer after `polls` re-checks (MiniMax reports no progress: a rough estimate). */
export function taskState(provider: string, taskId: string, query: Body, polls: number): TaskState {
  const status = typeof query.status === "string" ? query.status : "";
  if (status === "Success") {
    const fileId = idOf(query.file_id);
    if (!fileId) throw malformedResponse(provider, "a successful task has no file_id");
    return { done: true, fileId };
  }
  if (status === "Fail") {
    const br = (query.base_resp ?? {}) as BaseResp;
    const code = typeof br.status_code === "number" ? br.status_code : 0;
    const msg = typeof br.status_msg === "string" && br.status_msg !== "success" ? br.status_msg : "";
    const content = code === 1026 || code === 1027 || /sensitive|content|policy|moderation/i.test(msg);
    throw new ProviderError({
      provider,
      kind: content ? "content_policy" : "bad_response",
      message: `${provider} video task ${taskId} failed${msg ? `: ${scrub(msg)}` : ""}`,
    });
  }
  const floor = RUNNING[status];
  if (floor === undefined) throw malformedResponse(provider, `unknown task status "${scrub(status)}"`);
  return { done: false, progress: status === "Processing" ? Math.min(0.95, floor + 0.1 * polls) : floor };
}

/** The finished video: size from the task query when it reports one, duration from the request. */
export function videoResult(data: Buffer, query: Body, req: GenerationRequest): GenerationResult {
  const durationSeconds = req.video?.durationSeconds ?? DEFAULT_DURATION_SECONDS;
  const width = typeof query.video_width === "number" && query.video_width > 0 ? query.video_width : undefined;
  const height = typeof query.video_height === "number" && query.video_height > 0 ? query.video_height : undefined;
  return {
    media: [{ data, mimeType: "video/mp4", durationSeconds, ...(width && height ? { width, height } : {}) }],
    usage: { seconds: durationSeconds },
  };
}
