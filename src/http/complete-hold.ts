/**
 * graphql-ws's client (6.4.2, the newest) loses a subscription when a client disposes another one
 * in its `next` handler on that one's last event and the server's `complete` for it comes in the
 * same read: the client's release runs twice, its count of open operations drops to 0 while
 * others are still open, and a lazy client (the default) closes the socket — every other
 * subscription on it completes silently. `generationUpdated` ends by itself after the terminal
 * event, and "dispose on the terminal event" is the natural way to use it, so a user's
 * long-lived `myGenerations` on the same client would stop at random.
 *
 * So a subscription whose stream ended by itself holds its `complete` for a moment: a client that
 * disposes it meanwhile (its `complete` arrives, graphql-ws calls return()) gets no `complete`
 * frame at all, and a client that does not gets it `holdMs` later, in a later read.
 */
export function holdCompletion<T>(it: AsyncIterableIterator<T>, holdMs: number): AsyncIterableIterator<T> {
  if (holdMs <= 0) return it;
  let returned = false;
  let release: (() => void) | undefined;
  const wrapped: AsyncIterableIterator<T> = {
    async next() {
      const r = await it.next();
      if (!r.done || returned) return r;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, holdMs);
        release = () => {
          clearTimeout(t);
          resolve();
        };
      });
      return r;
    },
    async return(value?: unknown) {
      returned = true;
      release?.();
      return (await it.return?.(value)) ?? { value: undefined, done: true };
    },
    async throw(err: unknown) {
      returned = true;
      release?.();
      if (it.throw) return it.throw(err);
      throw err;
    },
    [Symbol.asyncIterator]() {
      return wrapped;
    },
  };
  return wrapped;
}
