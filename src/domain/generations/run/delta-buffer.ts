/**
 * Coalesces text deltas before they are published: deltas produced in the same tick
 * (windowMs 0) or within windowMs are merged into one event. `flush()` before any other
 * event keeps the order of the stream.
 */
export class DeltaBuffer {
  private pending = "";
  private timer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly windowMs: number,
    private readonly publish: (delta: string) => Promise<unknown>,
  ) {}

  push(delta: string): void {
    if (!delta) return;
    this.pending += delta;
    if (this.timer) return;
    this.timer = this.windowMs > 0 ? setTimeout(() => void this.flush(), this.windowMs) : setImmediate(() => void this.flush());
  }

  /** Publishes whatever is pending; resolves after every earlier publish too. */
  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer as NodeJS.Timeout);
      clearImmediate(this.timer as NodeJS.Immediate);
      this.timer = undefined;
    }
    if (this.pending) {
      const d = this.pending;
      this.pending = "";
      this.chain = this.chain.then(() => this.publish(d)).then(() => undefined);
    }
    return this.chain;
  }

  /** Appends `fn` to the publish chain after pending deltas: progress and other events keep their order. */
  then(fn: () => Promise<unknown>): Promise<void> {
    void this.flush();
    this.chain = this.chain.then(fn).then(() => undefined);
    return this.chain;
  }

  /** Drops anything pending (a broken stream that will be RESTARTED). */
  discard(): Promise<void> {
    this.pending = "";
    return this.flush();
  }
}

