/**
 * Collects calls made in the same event-loop turn and runs them as one batch: under
 * concurrency, N round trips to Postgres or Redis become one. A lone call waits one
 * setImmediate, nothing more.
 */
export class TickBatcher<T, R> {
  private pending: { item: T; resolve: (r: R) => void; reject: (e: unknown) => void }[] = [];
  private scheduled = false;
  private inFlight = false;

  constructor(
    /** Must return one result per item, in order. */
    private readonly flushFn: (items: T[]) => Promise<R[]>,
    private readonly maxBatch = 500,
    /**
     * Serial: at most one batch in flight; calls arriving meanwhile form the next batch
     * (group commit). For batches that lock the same rows, where parallel batches would
     * only queue on the lock.
     */
    private readonly serial = false,
  ) {}

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
    this.flushFn(batch.map((b) => b.item))
      .then(
        (results) => batch.forEach((b, i) => b.resolve(results[i])),
        (err) => batch.forEach((b) => b.reject(err)),
      )
      .finally(() => {
        this.inFlight = false;
        if (this.pending.length) this.flush();
      });
  }
}
