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
 * Retries, timeouts and key choice live outside the adapter. The wire mappings are pure
 * functions beside this file: request.ts (the body), response.ts (base_resp, task states).
 */
import type { AdapterSettings } from "../adapter-settings";
import {
  ProviderError,
  type GenerateOutcome,
  type GenerationProvider,
  type GenerationRequest,
  type GenerationResult,
  type PendingTask,
  type ProviderCall,
  type ProviderProbeCall,
} from "../contract";
import { AdapterBase } from "../shared/adapter-base";
import { errorFromStatus, malformedResponse, messageOf, toProviderError } from "../shared/errors";
import { requireKey } from "../shared/keys";
import { nextCheckMs, pollBackoff, pollNumber, type PollBackoff } from "../shared/poll";
import { validateMinimaxRequest, videoGenerationBody } from "./request";
import { idOf, minimaxBody, taskState, videoResult } from "./response";

/** First re-check of a new task, and the cap the growing delay stops at (ms). */
export const MINIMAX_POLL_MIN_MS = 5_000;
export const MINIMAX_POLL_MAX_MS = 60_000;

type Body = Record<string, unknown>;

export class MiniMaxProvider extends AdapterBase implements GenerationProvider {
  /** MiniMax is a hosted API: every call carries a key from the pool. */
  override readonly requiresKey = true;
  private readonly base: string;
  private readonly backoff: PollBackoff;

  constructor(private readonly settings: AdapterSettings) {
    super(settings);
    this.base = settings.baseUrl.replace(/\/+$/, "").replace(/\/v1$/, "");
    this.backoff = pollBackoff(settings, MINIMAX_POLL_MIN_MS, MINIMAX_POLL_MAX_MS);
  }

  validateRequest(req: GenerationRequest): string | undefined {
    return validateMinimaxRequest(this.id, req);
  }

  /** Creates the task and hands it back pending; the first re-check comes after pollMinMs. */
  async generate(req: GenerationRequest, call: ProviderCall): Promise<PendingTask> {
    const created = await this.api("/v1/video_generation", call.apiKey, call.signal, videoGenerationBody(req));
    const taskId = idOf(created.task_id);
    if (!taskId) throw malformedResponse(this.id, "video_generation has no task_id");
    call.onProgress(0);
    return { pending: true, taskId, state: { polls: 0 }, checkAfterMs: nextCheckMs(this.backoff, 0), progress: 0 };
  }

  /**
   * Queries the task: still running → pending again, each wait POLL_GROWTH× the previous
   * (capped at pollMaxMs) with a rough progress estimate (MiniMax reports none); Success →
   * the file is retrieved and downloaded; Fail → a ProviderError (content_policy when
   * MiniMax names a sensitive-content code, otherwise bad_response, which is retryable).
   */
  async poll(task: PendingTask, req: GenerationRequest, call: ProviderCall): Promise<GenerateOutcome> {
    const polls = pollNumber(task);
    const query = await this.api(`/v1/query/video_generation?task_id=${encodeURIComponent(task.taskId)}`, call.apiKey, call.signal);
    const state = taskState(this.id, task.taskId, query, polls);
    if (state.done) return this.finish(state.fileId, query, req, call);
    call.onProgress(state.progress);
    return { pending: true, taskId: task.taskId, state: { ...task.state, polls }, checkAfterMs: nextCheckMs(this.backoff, polls), progress: state.progress };
  }

  /**
   * MiniMax documents no way to cancel a video task: once created it runs (and is billed)
   * to the end. Deliberately a no-op; the runner simply stops polling the task.
   */
  async cancelTask(): Promise<void> {
    return undefined;
  }

  /**
   * GET /v1/files/list?purpose=video_generation: authenticated, free and quick. A bad key
   * comes back as status_code 1004 (auth).
   */
  async healthCheck(call: ProviderProbeCall): Promise<void> {
    await this.api("/v1/files/list?purpose=video_generation", call.apiKey, call.signal);
  }

  private async finish(fileId: string, query: Body, req: GenerationRequest, call: ProviderCall): Promise<GenerationResult> {
    const retrieved = await this.api(`/v1/files/retrieve?file_id=${encodeURIComponent(fileId)}`, call.apiKey, call.signal);
    const file = retrieved.file as Body | undefined;
    const url = typeof file?.download_url === "string" ? file.download_url : "";
    if (!url) throw malformedResponse(this.id, "files/retrieve has no file.download_url");
    const data = await this.download(url, call.signal);
    const result = videoResult(data, query, req);
    call.onProgress(1);
    return result;
  }

  /** One authenticated JSON call: HTTP errors, unparseable bodies and base_resp codes all leave as ProviderError. */
  private async api(path: string, apiKey: string | undefined, signal: AbortSignal, body?: Body): Promise<Body> {
    try {
      const res = await fetch(`${this.base}${path}`, {
        method: body ? "POST" : "GET",
        headers: {
          ...this.settings.headers,
          authorization: `Bearer ${requireKey(this.id, apiKey)}`,
          accept: "application/json",
          ...(body ? { "content-type": "application/json" } : {}),
        },
        body: body ? JSON.stringify(body) : undefined,
        signal,
      });
      const text = await res.text();
      if (!res.ok) throw errorFromStatus(this.id, res.status, messageOf(text), res.headers);
      return minimaxBody(this.id, text, res.headers);
    } catch (e) {
      throw toProviderError(this.id, e, signal);
    }
  }

  /** Downloads the finished video from its signed URL (no key: it is usually a CDN host). */
  private async download(url: string, signal: AbortSignal): Promise<Buffer> {
    try {
      const res = await fetch(url, { signal });
      if (!res.ok) {
        throw new ProviderError({ provider: this.id, kind: "unavailable", status: res.status, message: `${this.id}: downloading the video failed with HTTP ${res.status}` });
      }
      const data = Buffer.from(await res.arrayBuffer());
      if (data.length === 0) throw malformedResponse(this.id, "the video file is empty");
      return data;
    } catch (e) {
      throw toProviderError(this.id, e, signal);
    }
  }
}
