/**
 * Boots the real app (HTTP + WebSocket + in-process workers, unless told otherwise) on a
 * free port against an isolated database and Redis prefix, and talks to it as a client.
 */
import net from "node:net";
import { createClient, type Client } from "graphql-ws";
import WebSocket from "ws";
import { createApp, type App, type AppOptions } from "../../src/app";
import { testConfig, type AppConfig } from "../../src/config/config";
import { createTestDatabase, dropRedisPrefix, uniquePrefix, type TestDatabase } from "./infra";

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

export interface GqlResult<T = Record<string, any>> {
  data?: T;
  errors?: { message: string; extensions?: Record<string, any>; path?: string[] }[];
}

export interface TestApp {
  app: App;
  config: AppConfig;
  db: TestDatabase;
  port: number;
  url: string;
  wsUrl: string;
  adminKey: string;
  /** Creates a user and returns its id and API key. */
  createUser(email?: string, opts?: { admin?: boolean; tier?: "free" | "pro" | "enterprise" }): Promise<{ id: string; key: string }>;
  gql<T = Record<string, any>>(key: string | null, query: string, variables?: Record<string, unknown>): Promise<GqlResult<T>>;
  wsClient(key: string | null, opts?: { onClose?: (code: number, reason: string) => void }): Client;
  close(): Promise<void>;
}

let counter = 0;

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export async function startTestApp(
  overrides: DeepPartial<AppConfig> = {},
  opts: Partial<AppOptions> & { db?: TestDatabase; prefix?: string } = {},
): Promise<TestApp> {
  const db = opts.db ?? (await createTestDatabase());
  const prefix = opts.prefix ?? uniquePrefix();
  const port0 = await freePort();
  const config = testConfig({
    ...overrides,
    http: { port: port0, host: "127.0.0.1", publicUrl: `http://127.0.0.1:${port0}`, ...(overrides.http ?? {}) },
    db: { url: db.url, poolSize: 10, ...(overrides.db ?? {}) },
    redis: { url: "redis://127.0.0.1:6379", prefix, ...(overrides.redis ?? {}) },
    worker: { lockMs: 2000, backoffMs: 50, ...(overrides.worker ?? {}) },
    sweeper: { intervalMs: 60_000, ...(overrides.sweeper ?? {}) },
  } as DeepPartial<AppConfig>);
  let app: App;
  try {
    app = await createApp(config, { api: true, workers: true, ...opts });
  } catch (e) {
    // A config the test expects to be refused: leave no database or keys behind.
    if (!opts.db) await db.drop().catch(() => undefined);
    await dropRedisPrefix(prefix).catch(() => undefined);
    throw e;
  }
  const port = (await app.start())!;
  const url = `http://127.0.0.1:${port}/graphql`;
  const wsUrl = `ws://127.0.0.1:${port}/graphql`;
  const admin = await app.services.apiKeys.createUser(`admin-${++counter}-${prefix}@test.local`, "ADMIN", "enterprise");
  const clients: Client[] = [];

  const t: TestApp = {
    app, config, db, port, url, wsUrl, adminKey: admin.key,
    async createUser(email, o = {}) {
      const { user, key } = await app.services.apiKeys.createUser(email ?? `user-${++counter}-${prefix}@test.local`, o.admin ? "ADMIN" : "USER", o.tier ?? "free");
      return { id: user.id, key };
    },
    async gql(key, query, variables) {
      const res = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) },
        body: JSON.stringify({ query, variables }),
      });
      return (await res.json()) as GqlResult<any>;
    },
    wsClient(key, o = {}) {
      const c = createClient({
        url: wsUrl,
        webSocketImpl: WebSocket,
        retryAttempts: 0,
        lazy: true,
        connectionParams: key ? { authorization: `Bearer ${key}` } : {},
        on: { closed: (e) => o.onClose?.((e as { code: number }).code, (e as { reason: string }).reason) },
      });
      clients.push(c);
      return c;
    },
    async close() {
      for (const c of clients) await c.dispose();
      await app.stop();
      if (!opts.db) await db.drop();
      if (!opts.prefix) await dropRedisPrefix(prefix);
    },
  };
  return t;
}

/** Collects a subscription's events until `until` returns true (or the stream ends). */
export function collect<T = any>(client: Client, query: string, variables: Record<string, unknown>, until: (ev: T, all: T[]) => boolean, timeoutMs = 15_000): { events: T[]; done: Promise<T[]>; errors: unknown[] } {
  const events: T[] = [];
  const errors: unknown[] = [];
  let unsubscribe = () => undefined as void;
  let finished = false;
  const done = new Promise<T[]>((resolve, reject) => {
    const timer = setTimeout(() => {
      unsubscribe();
      reject(new Error(`timed out after ${timeoutMs}ms with ${events.length} events: ${JSON.stringify(events).slice(0, 2000)}`));
    }, timeoutMs);
    unsubscribe = client.subscribe<T>({ query, variables }, {
      next: (v) => {
        if (v.errors) errors.push(...v.errors);
        if (v.data && !finished) {
          const ev = Object.values(v.data as Record<string, T>)[0];
          events.push(ev);
          if (until(ev, events)) {
            finished = true;
            clearTimeout(timer);
            // Disposed in a later turn: graphql-ws's client, disposed in `next` while the server's `complete` for the
            // same subscription waits in the same read, releases twice and closes the socket under the client's other
            // subscriptions (mapEvents in src/http/shared-execution.ts).
            setImmediate(unsubscribe);
            resolve(events);
          }
        }
      },
      error: (e) => {
        clearTimeout(timer);
        errors.push(e);
        resolve(events);
      },
      complete: () => {
        clearTimeout(timer);
        resolve(events);
      },
    });
  });
  return { events, done, errors };
}
