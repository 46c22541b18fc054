/**
 * Embedding micro-batching: requests for the same provider, model and params (dimensions,
 * encoding, user, …: the upstream call carries one set for the whole batch) that arrive within
 * `maxWaitMs` (or until `maxSize` are waiting) go upstream as one `embedBatch` call and are
 * split back. A caller whose own signal aborts (cancel, deadline) stops waiting at once;
 * the batch goes on for the others.
 */
import type { GenerationProvider, GenerationRequest, GenerationResult } from "../../../providers/contract";
import { canonical } from "../../cache/cache-key";

export interface BatchOutcome {
  result: GenerationResult;
  /** What the shared call ran under (key label), for the attempt record. */
  keyLabel?: string;
  /** How many requests shared the upstream call. */
  batchSize: number;
}

/** Runs one upstream batch: picks a key, calls, records the key's outcome. */
export type BatchExecutor = (provider: GenerationProvider, reqs: GenerationRequest[], timeoutMs: number) => Promise<{ results: GenerationResult[]; keyLabel?: string }>;

interface Pending {
  req: GenerationRequest;
  timeoutMs: number;
  resolve(o: BatchOutcome): void;
  reject(e: unknown): void;
}

/**
 * Which batch a request may join: one provider, one model and identical params (key order
 * aside), because the upstream body takes the batch's params from its first request.
 */
export function batchKey(provider: Pick<GenerationProvider, "id">, req: Pick<GenerationRequest, "model" | "params">): string {
  return `${provider.id}\u0000${req.model}\u0000${canonical(req.params ?? {})}`;
}

export class EmbeddingBatcher {
  private readonly open = new Map<string, { provider: GenerationProvider; items: Pending[]; timer: NodeJS.Timeout }>();
  /** Upstream calls made (tests and metrics). */
  calls = 0;

  constructor(private readonly cfg: { maxSize: number; maxWaitMs: number }, private readonly exec: BatchExecutor) {}

  get enabled(): boolean {
    return this.cfg.maxWaitMs > 0 && this.cfg.maxSize > 1;
  }

  embed(provider: GenerationProvider, req: GenerationRequest, signal: AbortSignal, timeoutMs: number): Promise<BatchOutcome> {
    return new Promise<BatchOutcome>((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      const onAbort = () => reject(signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
      const item: Pending = {
        req, timeoutMs,
        resolve: (o) => (signal.removeEventListener("abort", onAbort), resolve(o)),
        reject: (e) => (signal.removeEventListener("abort", onAbort), reject(e)),
      };
      const key = batchKey(provider, req);
      let batch = this.open.get(key);
      if (!batch) {
        batch = { provider, items: [], timer: setTimeout(() => this.flush(key), this.cfg.maxWaitMs) };
        this.open.set(key, batch);
      }
      batch.items.push(item);
      if (batch.items.length >= this.cfg.maxSize) this.flush(key);
    });
  }

  private flush(key: string): void {
    const batch = this.open.get(key);
    if (!batch) return;
    this.open.delete(key);
    clearTimeout(batch.timer);
    const { provider, items } = batch;
    this.calls++;
    const timeoutMs = Math.min(...items.map((i) => i.timeoutMs));
    this.exec(provider, items.map((i) => i.req), timeoutMs).then(
      ({ results, keyLabel }) => items.forEach((it, i) => it.resolve({ result: results[i], keyLabel, batchSize: items.length })),
      (err) => items.forEach((it) => it.reject(err)),
    );
  }
}
