/**
 * The `minimax` adapter: MiniMax Hailuo video generation (text-to-video and image-to-video).
 * MiniMax has no maintained JavaScript SDK, so this speaks its documented HTTP API with fetch:
 *
 *   POST {baseUrl}/v1/video_generation                 → { task_id, base_resp }
 *   GET  {baseUrl}/v1/query/video_generation?task_id=  → { status, file_id?, video_width?, video_height?, base_resp }
 *   GET  {baseUrl}/v1/files/retrieve?file_id=          → { file: { download_url, … }, base_resp }
 *   GET  {file.download_url}                           → the MP4 bytes (a signed URL: no key is sent there)
 *
 * MiniMax reports most failures as HTTP 200 with `base_resp.status_code ≠ 0` (see
 * {@link minimaxCodeError}); gateway failures still arrive as HTTP 5xx and go through the
 * shared {@link errorFromStatus}. Video takes minutes, so generate() only creates the task and
 * returns a {@link PendingTask}; the worker re-checks it through poll() after `checkAfterMs`.
 * Retries, timeouts and key choice live outside the adapter.
 */
import type { AdapterSettings } from "../adapter-settings";
import {
  ProviderError,
  type GenerateOutcome,
  type GenerationProvider,
  type GenerationRequest,
  type GenerationResult,
  type ModelInfo,
  type PendingTask,
  type ProviderCall,
  type ProviderProbeCall,
} from "../contract";
import { errorFromStatus, messageOf, parseRetryAfter, scrub, toProviderError } from "../errors";

/** First re-check of a new task, and the cap the growing delay stops at (ms). */
export const MINIMAX_POLL_MIN_MS = 5_000;
export const MINIMAX_POLL_MAX_MS = 60_000;
/** Each re-check of a still-running task waits this much longer than the previous one. */
const POLL_GROWTH = 1.5;
/** Hailuo's default clip length when the request names none (it offers 6 or 10 s). */
const DEFAULT_DURATION_SECONDS = 6;
/** Body keys that `params` may never override. */
const RESERVED = new Set(["model", "prompt", "duration", "resolution", "first_frame_image", "callback_url"]);
/** Task states MiniMax reports while a video is still being made. */
const RUNNING: Record<string, number> = { Preparing: 0.02, Queueing: 0.05, Processing: 0.1 };

type Body = Record<string, unknown>;
interface BaseResp {
  status_code?: unknown;
  status_msg?: unknown;
}

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

const badResponse = (provider: string, what: string): ProviderError =>
  new ProviderError({ provider, kind: "bad_response", message: `${provider} sent a malformed response: ${what}` });

/** "1080p" → "1080P"; "1920x1080" → "1080P" (MiniMax names resolutions by their short side). */
function minimaxResolution(resolution: string | undefined): string | undefined {
  if (!resolution) return undefined;
  const p = /^(\d{3,4})p$/i.exec(resolution.trim());
  if (p) return `${p[1]}P`;
  const wh = /^(\d{2,5})\s*[x×]\s*(\d{2,5})$/i.exec(resolution.trim());
  if (wh) return `${Math.min(Number(wh[1]), Number(wh[2]))}P`;
  return resolution;
}

function promptOf(req: GenerationRequest): string | undefined {
  if (req.prompt) return req.prompt;
  const texts = (req.messages ?? []).flatMap((m) => m.content.flatMap((p) => (p.type === "text" ? [p.text] : [])));
  return texts.length ? texts.join("\n") : undefined;
}

/** Creates the MiniMax Hailuo video adapter (see the module comment for the API it speaks). */
export function createMiniMaxProvider(settings: AdapterSettings): GenerationProvider {
  const id = settings.id;
  const base = settings.baseUrl.replace(/\/+$/, "").replace(/\/v1$/, "");
  const pollMin = settings.pollMinMs ?? MINIMAX_POLL_MIN_MS;
  const pollMax = Math.max(pollMin, settings.pollMaxMs ?? MINIMAX_POLL_MAX_MS);

  const keyOf = (apiKey: string | undefined): string => {
    if (!apiKey) throw new ProviderError({ provider: id, kind: "auth", message: `${id} needs an API key` });
    return apiKey;
  };

  /** One authenticated JSON call: HTTP errors, unparseable bodies and base_resp codes all leave as ProviderError. */
  async function api(path: string, apiKey: string | undefined, signal: AbortSignal, body?: Body): Promise<Body> {
    try {
      const res = await fetch(`${base}${path}`, {
        method: body ? "POST" : "GET",
        headers: {
          ...settings.headers,
          authorization: `Bearer ${keyOf(apiKey)}`,
          accept: "application/json",
          ...(body ? { "content-type": "application/json" } : {}),
        },
        body: body ? JSON.stringify(body) : undefined,
        signal,
      });
      const text = await res.text();
      if (!res.ok) throw errorFromStatus(id, res.status, messageOf(text), res.headers);
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        throw badResponse(id, `not JSON (${scrub(text.slice(0, 80))})`);
      }
      if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw badResponse(id, "not a JSON object");
      const b = parsed as Body;
      const br = b.base_resp as BaseResp | undefined;
      if (br && typeof br.status_code === "number" && br.status_code !== 0) {
        throw minimaxCodeError(id, br.status_code, typeof br.status_msg === "string" ? br.status_msg : "", res.headers);
      }
      return b;
    } catch (e) {
      throw toProviderError(id, e, signal);
    }
  }

  /** Downloads the finished video from its signed URL (no key: it is usually a CDN host). */
  async function download(url: string, signal: AbortSignal): Promise<Buffer> {
    try {
      const res = await fetch(url, { signal });
      if (!res.ok) {
        throw new ProviderError({ provider: id, kind: "unavailable", status: res.status, message: `${id}: downloading the video failed with HTTP ${res.status}` });
      }
      const data = Buffer.from(await res.arrayBuffer());
      if (data.length === 0) throw badResponse(id, "the video file is empty");
      return data;
    } catch (e) {
      throw toProviderError(id, e, signal);
    }
  }

  async function finish(fileId: string, query: Body, req: GenerationRequest, call: ProviderCall): Promise<GenerationResult> {
    const retrieved = await api(`/v1/files/retrieve?file_id=${encodeURIComponent(fileId)}`, call.apiKey, call.signal);
    const file = retrieved.file as Body | undefined;
    const url = typeof file?.download_url === "string" ? file.download_url : "";
    if (!url) throw badResponse(id, "files/retrieve has no file.download_url");
    const data = await download(url, call.signal);
    const durationSeconds = req.video?.durationSeconds ?? DEFAULT_DURATION_SECONDS;
    const width = typeof query.video_width === "number" && query.video_width > 0 ? query.video_width : undefined;
    const height = typeof query.video_height === "number" && query.video_height > 0 ? query.video_height : undefined;
    call.onProgress(1);
    return {
      media: [{ data, mimeType: "video/mp4", durationSeconds, ...(width && height ? { width, height } : {}) }],
      usage: { seconds: durationSeconds },
    };
  }

  const models: readonly ModelInfo[] = settings.models;

  return {
    id,
    displayName: settings.displayName,
    simulated: false,
    models,
    /** MiniMax is a hosted API: every call carries a key from the pool. */
    requiresKey: true,

    validateRequest(req) {
      if (req.modality !== "VIDEO") return `${id} generates VIDEO only, not ${req.modality}`;
      if (!promptOf(req) && !req.video?.imageUrl) return `${id} needs a prompt or video.imageUrl (image-to-video)`;
      return undefined;
    },

    /** Creates the task and hands it back pending; the first re-check comes after pollMinMs. */
    async generate(req, call): Promise<PendingTask> {
      const body: Body = {};
      for (const [k, v] of Object.entries(req.params ?? {})) if (!RESERVED.has(k) && v !== undefined) body[k] = v;
      Object.assign(body, { model: req.model, prompt: promptOf(req) ?? "", duration: req.video?.durationSeconds ?? DEFAULT_DURATION_SECONDS });
      const resolution = minimaxResolution(req.video?.resolution);
      if (resolution) body.resolution = resolution;
      if (req.video?.imageUrl) body.first_frame_image = req.video.imageUrl;
      const created = await api("/v1/video_generation", call.apiKey, call.signal, body);
      const taskId = typeof created.task_id === "string" || typeof created.task_id === "number" ? String(created.task_id) : "";
      if (!taskId) throw badResponse(id, "video_generation has no task_id");
      call.onProgress(0);
      return { pending: true, taskId, state: { polls: 0 }, checkAfterMs: pollMin, progress: 0 };
    },

    /**
     * Queries the task: still running → pending again, each wait POLL_GROWTH× the previous
     * (capped at pollMaxMs) with a rough progress estimate (MiniMax reports none); Success →
     * the file is retrieved and downloaded; Fail → a ProviderError (content_policy when
     * MiniMax names a sensitive-content code, otherwise bad_response, which is retryable).
     */
    async poll(task, req, call): Promise<GenerateOutcome> {
      const polls = (typeof task.state?.polls === "number" ? task.state.polls : 0) + 1;
      const query = await api(`/v1/query/video_generation?task_id=${encodeURIComponent(task.taskId)}`, call.apiKey, call.signal);
      const status = typeof query.status === "string" ? query.status : "";
      if (status === "Success") {
        const fileId = typeof query.file_id === "string" || typeof query.file_id === "number" ? String(query.file_id) : "";
        if (!fileId) throw badResponse(id, "a successful task has no file_id");
        return finish(fileId, query, req, call);
      }
      if (status === "Fail") {
        const br = (query.base_resp ?? {}) as BaseResp;
        const code = typeof br.status_code === "number" ? br.status_code : 0;
        const msg = typeof br.status_msg === "string" && br.status_msg !== "success" ? br.status_msg : "";
        const content = code === 1026 || code === 1027 || /sensitive|content|policy|moderation/i.test(msg);
        throw new ProviderError({
          provider: id,
          kind: content ? "content_policy" : "bad_response",
          message: `${id} video task ${task.taskId} failed${msg ? `: ${scrub(msg)}` : ""}`,
        });
      }
      const floor = RUNNING[status];
      if (floor === undefined) throw badResponse(id, `unknown task status "${scrub(status)}"`);
      const progress = status === "Processing" ? Math.min(0.95, floor + 0.1 * polls) : floor;
      call.onProgress(progress);
      return {
        pending: true,
        taskId: task.taskId,
        state: { ...task.state, polls },
        checkAfterMs: Math.min(pollMax, Math.round(pollMin * POLL_GROWTH ** polls)),
        progress,
      };
    },

    /**
     * MiniMax documents no way to cancel a video task: once created it runs (and is billed)
     * to the end. Deliberately a no-op; the runner simply stops polling the task.
     */
    async cancelTask(): Promise<void> {
      return undefined;
    },

    /**
     * GET /v1/files/list?purpose=video_generation: authenticated, free and quick. A bad key
     * comes back as status_code 1004 (auth).
     */
    async healthCheck(call: ProviderProbeCall): Promise<void> {
      await api("/v1/files/list?purpose=video_generation", call.apiKey, call.signal);
    },
  };
}
