/**
 * `Replicate#request()` wraps every call in `withAutomaticRetries`: 429 is retried for every
 * method and 5xx for GETs, 5 retries, and no option turns it off (see replicate.provider.ts).
 * Retries belong to our runner, so each SDK call gets a client whose `fetch` (the one
 * documented hook) is one of these.
 */
import { errorFromStatus, messageOf } from "../shared/errors";

export type FetchLike = (input: Request | string, init?: RequestInit) => Promise<Response>;

/**
 * A fetch for one SDK call: one network request at most. A non-2xx answer becomes a
 * ProviderError (body's `detail`, Retry-After kept) and is thrown; so is a network error or
 * an abort. The SDK's automatic retries then call again and get the same error back without
 * another request.
 */
export function oneShotFetch(provider: string, extraHeaders: Record<string, string> | undefined): FetchLike {
  let failure: { error: unknown } | undefined;
  return async (input, init) => {
    if (failure) throw failure.error;
    try {
      const headers = { ...extraHeaders, ...(init?.headers as Record<string, string> | undefined) };
      const res = await fetch(input, { ...init, headers });
      if (res.ok) return res;
      const text = await res.text().catch(() => "");
      failure = { error: errorFromStatus(provider, res.status, messageOf(text), res.headers) };
    } catch (e) {
      failure = { error: e };
    }
    throw failure.error;
  };
}
