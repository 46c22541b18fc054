/**
 * Collects calls made in the same event-loop turn and runs them as one batch: under
 * concurrency, N round trips to Postgres or Redis become one. A lone call waits one
 * setImmediate, nothing more.
 */
export interface TickBatcherOptions {
  /** Largest batch; more calls form the next one. Default 500. */
  maxBatch?: number;
  /**
   * Serial: at most one batch in flight; calls arriving meanwhile form the next batch
   * (group commit). For batches that lock the same rows, where parallel batches would
   * only queue on the lock. Default false.
   */
  serial?: boolean;
  /**
   * When a batch of several fails, run each member alone (one after another) so a member
   * that cannot succeed (bad data, a constraint) fails only its own caller, with its own
   * error. Only for a flush that leaves no effect behind when it fails (one statement, or
   * one transaction), so running a member again is safe. A function decides per error: an
   * outage (connection lost) fails every member without N doomed retries. Default false.
   */
  isolate?: boolean | ((err: unknown) => boolean);
}

export class TickBatcher<T, R> {
  private pending: { item: T; resolve: (r: R) => void; reject: (e: unknown) => void }[] = [];
  private scheduled = false;
  private inFlight = false;
  private readonly maxBatch: number;
  private readonly serial: boolean;
  private readonly isolate: (err: unknown) => boolean;

  constructor(
    /** Must return one result per item, in order. */
    private readonly flushFn: (items: T[]) => Promise<R[]>,
    maxBatchOrOptions: number | TickBatcherOptions = 500,
    serial = false,
  ) {
    const o: TickBatcherOptions = typeof maxBatchOrOptions === "number" ? { maxBatch: maxBatchOrOptions, serial } : maxBatchOrOptions;
    this.maxBatch = o.maxBatch ?? 500;
    this.serial = o.serial ?? false;
    const iso = o.isolate ?? false;
    this.isolate = typeof iso === "function" ? iso : () => iso;
  }

  add(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (this.serial && this.inFlight) return; // joins the batch that starts when the current one ends
      if (this.pending.length >= this.maxBatch) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    if (this.serial && this.inFlight) return;
    const batch = this.pending.splice(0, this.maxBatch);
    if (!batch.length) return;
    this.inFlight = true;
    this.run(batch).finally(() => {
      this.inFlight = false;
      if (this.pending.length) this.flush();
    });
  }

  private async run(batch: typeof this.pending): Promise<void> {
    let results: R[];
    try {
      results = await this.flushFn(batch.map((b) => b.item));
    } catch (err) {
      if (batch.length === 1 || !this.isolate(err)) return batch.forEach((b) => b.reject(err));
      // One bad member must not fail the others: each runs alone and gets its own outcome.
      for (const b of batch) await this.run([b]);
      return;
    }
    batch.forEach((b, i) => b.resolve(results[i]));
  }
}
