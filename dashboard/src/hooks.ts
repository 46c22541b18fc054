import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { ApiError, subscribe } from "./api";

/** Runs `load` now and every `everyMs` (0: once); `reload()` runs it again at once. */
export function usePoll<T>(load: () => Promise<T>, everyMs: number, deps: unknown[] = []) {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<ApiError | null>(null);
  const alive = useRef(true);
  const run = useCallback(async () => {
    try {
      const v = await load();
      if (alive.current) {
        setData(v);
        setError(null);
      }
    } catch (e) {
      if (alive.current) setError(e instanceof ApiError ? e : new ApiError(String((e as Error)?.message ?? e), "NETWORK_ERROR"));
    }
  }, deps);
  useEffect(() => {
    alive.current = true;
    void run();
    const t = everyMs > 0 ? setInterval(() => void run(), everyMs) : undefined;
    return () => {
      alive.current = false;
      if (t) clearInterval(t);
    };
  }, [run, everyMs]);
  return { data, error, reload: run, setData };
}

/** A live subscription for the component's lifetime. */
export function useSubscription<T>(query: string, variables: Record<string, unknown>, onData: (v: T) => void, deps: unknown[] = []) {
  const [error, setError] = useState<ApiError | null>(null);
  const handler = useRef(onData);
  handler.current = onData;
  useEffect(() => subscribe<T>(query, variables, (v) => handler.current(v), setError), deps);
  return error;
}

/** Wraps an action (a mutation): busy flag and its error, for buttons. */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const run = async <T,>(f: () => Promise<T>): Promise<T | undefined> => {
    setBusy(true);
    setError(null);
    try {
      return await f();
    } catch (e) {
      setError(e instanceof ApiError ? e : new ApiError(String((e as Error)?.message ?? e), "NETWORK_ERROR"));
      return undefined;
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, run };
}
