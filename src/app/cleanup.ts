/**
 * One LIFO of async disposers: whatever was opened last closes first, every disposer runs
 * once (a failing one does not stop the others), and closing twice closes once.
 */
export type Disposer = () => unknown;

export class CleanupStack {
  private readonly disposers: Disposer[] = [];
  private closing?: Promise<void>;

  /** Registers `fn` to run at close, before everything registered earlier. */
  defer(fn: Disposer): void {
    if (this.closing) throw new Error("cleanup stack already closed");
    this.disposers.push(fn);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      for (let fn = this.disposers.pop(); fn; fn = this.disposers.pop()) {
        await Promise.resolve().then(fn).catch(() => undefined);
      }
    })();
    return this.closing;
  }
}
