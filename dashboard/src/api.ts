/**
 * The dashboard's only way out: the public GraphQL API. Queries and mutations are HTTP POSTs
 * with `Authorization: Bearer <key>`; subscriptions go over graphql-ws on the same path with the
 * key as `connectionParams.authorization`. The key lives in sessionStorage (this tab only, gone
 * when it closes); there are no cookies, so there is no CSRF surface.
 */
import { createClient, type Client } from "graphql-ws";

const KEY = "switchboard.apiKey";

export function getKey(): string | null {
  return sessionStorage.getItem(KEY);
}

export function setKey(key: string | null): void {
  if (key) sessionStorage.setItem(KEY, key);
  else sessionStorage.removeItem(KEY);
  resetSocket();
}

/** /graphql relative to the page (/dashboard/ → /graphql), so a path-mounting proxy works. */
export function endpoint(): string {
  const root = document.getElementById("app");
  return new URL(root?.dataset.endpoint ?? "../graphql", location.href).href;
}

/** A GraphQL error as the API states it: message and extensions.code. */
export class ApiError extends Error {
  constructor(message: string, readonly code: string, readonly extensions: Record<string, unknown> = {}) {
    super(message);
  }
}

interface GqlResponse<T> {
  data?: T;
  errors?: { message: string; extensions?: Record<string, unknown> }[];
}

export async function gql<T = any>(query: string, variables?: Record<string, unknown>): Promise<T> {
  const key = getKey();
  const res = await fetch(endpoint(), {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  let body: GqlResponse<T>;
  try {
    body = (await res.json()) as GqlResponse<T>;
  } catch {
    throw new ApiError(`HTTP ${res.status}`, "HTTP_ERROR");
  }
  const e = body.errors?.[0];
  if (e) throw new ApiError(e.message, String(e.extensions?.code ?? "INTERNAL_SERVER_ERROR"), e.extensions);
  return body.data as T;
}

let socket: Client | undefined;

function resetSocket(): void {
  void socket?.dispose();
  socket = undefined;
}

function ws(): Client {
  socket ??= createClient({
    url: endpoint().replace(/^http/, "ws"),
    lazy: true,
    retryAttempts: 1000,
    // A revoked key's socket is closed by the server: reconnecting with the same key cannot help.
    shouldRetry: (e) => !(e && typeof e === "object" && "code" in e && (e as { code: number }).code === 4401),
    connectionParams: () => {
      const key = getKey();
      return key ? { authorization: `Bearer ${key}` } : {};
    },
  });
  return socket;
}

/** Subscribes; `onData` gets the subscription field's value. Returns the unsubscribe function. */
export function subscribe<T = any>(query: string, variables: Record<string, unknown>, onData: (value: T) => void, onError?: (e: ApiError) => void): () => void {
  return ws().subscribe<Record<string, T>>(
    { query, variables },
    {
      next: (v) => {
        if (v.errors?.length) onError?.(new ApiError(v.errors[0].message, String(v.errors[0].extensions?.code ?? "ERROR")));
        const value = v.data && Object.values(v.data)[0];
        if (value) onData(value);
      },
      error: (e) => onError?.(new ApiError(e instanceof Error ? e.message : "subscription closed", "SUBSCRIPTION_ERROR")),
      complete: () => undefined,
    },
  );
}

export interface Me {
  id: string;
  email: string;
  role: "ADMIN" | "USER";
  tier: string;
}

export const ME = `query DashboardMe { me { id email role tier } }`;
