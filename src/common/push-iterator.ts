/**
 * An async iterator fed by push(): what a subscription resolver returns. Buffers
 * values until pulled; `onReturn` runs once when the consumer stops or end() is called.
 */
export interface PushIterator<T> extends AsyncIterableIterator<T> {
  push(value: T): void;
  fail(err: unknown): void;
  end(): void;
}

export function createPushIterator<T>(onReturn: () => void): PushIterator<T> {
  const buffer: T[] = [];
  const waiters: { resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void }[] = [];
  let done = false;
  let error: unknown;
  let cleaned = false;
  const cleanup = () => {
    if (!cleaned) {
      cleaned = true;
      onReturn();
    }
  };
  const finish = () => {
    done = true;
    cleanup();
    while (waiters.length) {
      const w = waiters.shift()!;
      if (error !== undefined) w.reject(error);
      else w.resolve({ value: undefined, done: true });
    }
  };
  const it: PushIterator<T> = {
    push(value) {
      if (done) return;
      const w = waiters.shift();
      if (w) w.resolve({ value, done: false });
      else buffer.push(value);
    },
    fail(err) {
      if (done) return;
      error = err;
      finish();
    },
    end() {
      if (!done) finish();
    },
    next() {
      if (buffer.length) return Promise.resolve({ value: buffer.shift()!, done: false });
      if (done) {
        if (error !== undefined) {
          const e = error;
          error = undefined;
          return Promise.reject(e);
        }
        return Promise.resolve({ value: undefined, done: true });
      }
      return new Promise((resolve, reject) => waiters.push({ resolve, reject }));
    },
    return() {
      buffer.length = 0;
      if (!done) finish();
      return Promise.resolve({ value: undefined, done: true });
    },
    throw(err) {
      buffer.length = 0;
      if (!done) finish();
      return Promise.reject(err);
    },
    [Symbol.asyncIterator]() {
      return it;
    },
  };
  return it;
}
