/**
 * Ollama's native model administration (list, pull, delete, version) through the official
 * `ollama` package. Generation does not come through here: it uses the openai-compatible
 * adapter on `${OLLAMA_BASE_URL}/v1`.
 *
 * `ollama` 0.6.4 quirks handled here:
 * - only streamed requests (pull) can be aborted, through the iterator's own `abort()`;
 *   list/delete/version take no signal, so each call gets a client whose `fetch` carries ours;
 * - `pull({ stream: true })` throws a plain `Error(line.error)` when a line is an error
 *   (`{"error":"pull model manifest: file does not exist"}` comes with HTTP 200), silently
 *   skips lines that are not JSON, and throws "Did not receive done or success response in
 *   stream." when the stream ends early; all of these leave here as a ProviderError naming
 *   the model;
 * - HTTP errors arrive as `ResponseError { error, status_code }` (not `status`), so they
 *   are mapped here before the shared {@link toProviderError};
 * - the host is normalised by the package (a trailing `/v1` would be kept as a path), so the
 *   base URL is reduced to the server root first.
 */
import { Ollama, type ProgressResponse } from "ollama";
import { ProviderError } from "../contract";
import { errorFromStatus, scrub, toProviderError } from "../shared/errors";

export interface OllamaModel {
  /** "llama3.2:latest". */
  name: string;
  sizeBytes: number;
  /** As Ollama reports it (RFC 3339, often with nanoseconds and a zone offset). */
  modifiedAt: string;
  family?: string;
  /** "3.2B". */
  parameterSize?: string;
}

export interface OllamaPullProgress {
  /** "pulling manifest", "downloading" / "pulling <digest>", "verifying sha256 digest", "writing manifest", "success". */
  status: string;
  /** Bytes of the layer this line is about (when it is a download line). */
  completed?: number;
  total?: number;
  /**
   * Overall 0..1 across every layer seen so far (Σcompleted / Σtotal), never going backwards
   * when a new layer shows up; 1 on success. Absent until a line carries a size.
   */
  fraction?: number;
}

/** Ollama's native admin API (see the module comment). */
export class OllamaAdmin {
  readonly baseUrl: string;
  private readonly provider: string;

  constructor(opts: { baseUrl: string; id?: string }) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, "").replace(/\/v1$/, "");
    this.provider = opts.id ?? "ollama";
  }

  /** A client whose requests carry `signal` (the package offers no per-call signal). */
  private client(signal?: AbortSignal): Ollama {
    const f: typeof fetch = (input, init) => {
      const signals = [init?.signal, signal].filter((s): s is AbortSignal => s != null);
      return fetch(input, { ...init, signal: signals.length > 1 ? AbortSignal.any(signals) : signals[0] });
    };
    return new Ollama({ host: this.baseUrl, fetch: f });
  }

  private fail(e: unknown, signal: AbortSignal | undefined, what: string): ProviderError {
    const err = e as { name?: string; error?: unknown; status_code?: unknown };
    if (err?.name === "ResponseError" && typeof err.status_code === "number" && !signal?.aborted) {
      const pe = errorFromStatus(this.provider, err.status_code, typeof err.error === "string" ? err.error : "");
      return new ProviderError({ ...pe, provider: pe.provider, kind: pe.kind, message: `${what}: ${pe.message}` });
    }
    const pe = toProviderError(this.provider, e, signal);
    return new ProviderError({ ...pe, provider: pe.provider, kind: pe.kind, message: `${what}: ${pe.message}` });
  }

  /** GET /api/tags: the models on the server. */
  async listModels(signal?: AbortSignal): Promise<OllamaModel[]> {
    try {
      const { models } = await this.client(signal).list();
      return (models ?? []).map((m) => ({
        name: m.name,
        sizeBytes: m.size,
        modifiedAt: String(m.modified_at),
        ...(m.details?.family ? { family: m.details.family } : {}),
        ...(m.details?.parameter_size ? { parameterSize: m.details.parameter_size } : {}),
      }));
    } catch (e) {
      throw this.fail(e, signal, "listing ollama models failed");
    }
  }

  /**
   * POST /api/pull with `stream: true`: each NDJSON progress line goes to `onProgress`; resolves
   * after the `success` line. Rejects with a ProviderError carrying Ollama's message when a
   * line is an error (an unknown model: "pull model manifest: file does not exist"), when the
   * stream ends without success, or when `signal` aborts (the download stops).
   */
  async pull(name: string, onProgress: (p: OllamaPullProgress) => void, signal?: AbortSignal): Promise<void> {
    const what = `pulling ollama model "${scrub(name)}" failed`;
    if (signal?.aborted) throw this.fail(signal.reason ?? new Error("aborted"), signal, what);
    const layers = new Map<string, { completed: number; total: number }>();
    let fraction: number | undefined;
    let stop: (() => void) | undefined;
    const onAbort = () => stop?.();
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      const stream = await this.client(signal).pull({ model: name, stream: true });
      stop = () => stream.abort();
      if (signal?.aborted) stream.abort();
      let done = false;
      for await (const line of stream as AsyncIterable<Partial<ProgressResponse>>) {
        const status = typeof line.status === "string" ? line.status : "";
        const total = typeof line.total === "number" && line.total > 0 ? line.total : undefined;
        const completed = typeof line.completed === "number" ? line.completed : total !== undefined ? 0 : undefined;
        if (total !== undefined && line.digest) layers.set(line.digest, { completed: Math.min(completed ?? 0, total), total });
        if (status === "success") {
          done = true;
          fraction = 1;
        } else if (layers.size > 0) {
          let sumDone = 0;
          let sumTotal = 0;
          for (const l of layers.values()) {
            sumDone += l.completed;
            sumTotal += l.total;
          }
          fraction = Math.max(fraction ?? 0, sumTotal > 0 ? sumDone / sumTotal : 0);
        }
        onProgress({ status, ...(completed !== undefined ? { completed } : {}), ...(total !== undefined ? { total } : {}), ...(fraction !== undefined ? { fraction } : {}) });
        if (done) return;
      }
      throw new ProviderError({ provider: this.provider, kind: "bad_response", message: `${what}: the progress stream ended without success` });
    } catch (e) {
      if (e instanceof ProviderError) throw e;
      if (signal?.aborted) throw this.fail(e, signal, what);
      if (e instanceof Error && /Did not receive done or success/i.test(e.message)) {
        throw new ProviderError({ provider: this.provider, kind: "bad_response", message: `${what}: the progress stream ended without success` });
      }
      // An error line: the package throws a plain Error (not a TypeError from fetch, not a ResponseError) with Ollama's message.
      if (e instanceof Error && e.name === "Error") {
        const kind = /does not exist|not found|invalid model|manifest unknown/i.test(e.message) ? "invalid_request" : "unavailable";
        throw new ProviderError({ provider: this.provider, kind, message: `${what}: ${scrub(e.message)}` });
      }
      throw this.fail(e, signal, what);
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
  }

  /** DELETE /api/delete; an unknown model is a 404 (invalid_request: "model 'x' not found"). */
  async delete(name: string, signal?: AbortSignal): Promise<void> {
    try {
      await this.client(signal).delete({ model: name });
    } catch (e) {
      throw this.fail(e, signal, `deleting ollama model "${scrub(name)}" failed`);
    }
  }

  /** GET /api/version: the server answers (no key involved). Resolves with its version. */
  async healthCheck(signal?: AbortSignal): Promise<string> {
    try {
      const { version } = await this.client(signal).version();
      if (typeof version !== "string") throw new ProviderError({ provider: this.provider, kind: "bad_response", message: "ollama /api/version has no version" });
      return version;
    } catch (e) {
      throw this.fail(e, signal, "ollama health check failed");
    }
  }
}
