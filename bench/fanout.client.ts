/**
 * Child process for `npm run bench:fanout`: opens its share of the WebSockets (graphql-ws client,
 * several subscriptions per socket) and measures publish → receipt latency from the stamp each
 * bench event carries in `message` ("t:<process.hrtime.bigint() of the publisher>", the same
 * monotonic clock in every process on this machine).
 */
import { createClient, type Client } from "graphql-ws";
import WebSocket from "ws";

interface SocketPlan {
  connectionParams: Record<string, string>;
  subs: { query: string; variables?: Record<string, unknown> }[];
}

const clients: Client[] = [];
let received = 0;
let errors = 0;
const closeCodes: Record<string, number> = {};
let latencies: number[] = [];
let live = 0;
/** Latencies are kept only once the parent starts a measured window (reset). */
let recording = false;

async function open(url: string, plan: SocketPlan[]) {
  const batch = 50;
  for (let i = 0; i < plan.length; i += batch) {
    await Promise.all(
      plan.slice(i, i + batch).map(
        (s) =>
          new Promise<void>((resolve) => {
            const c = createClient({
              url, webSocketImpl: WebSocket, retryAttempts: 0, lazy: true, connectionParams: s.connectionParams,
              on: {
                connected: () => resolve(),
                closed: (e) => {
                  const code = String((e as { code?: number }).code ?? "?");
                  closeCodes[code] = (closeCodes[code] ?? 0) + 1;
                  resolve();
                },
              },
            });
            clients.push(c);
            for (const sub of s.subs) {
              let seen = false;
              c.subscribe<Record<string, { message?: string | null }>>(sub, {
                next: ({ data, errors: errs }) => {
                  if (errs?.length) errors++;
                  const ev = data && Object.values(data)[0];
                  const m = ev?.message;
                  if (!m || !m.startsWith("t:")) return;
                  received++;
                  if (!seen) {
                    seen = true;
                    live++;
                  }
                  if (recording) latencies.push(Number(process.hrtime.bigint() - BigInt(m.slice(2))) / 1e6);
                },
                error: () => errors++,
                complete: () => undefined,
              });
            }
          }),
      ),
    );
  }
}

process.on("message", async (m: { cmd: string; url?: string; plan?: SocketPlan[]; latencies?: boolean }) => {
  if (m.cmd === "open") {
    await open(m.url!, m.plan!);
    process.send!({ opened: clients.length });
  } else if (m.cmd === "stats") {
    process.send!({ received, live, errors, closeCodes, latencies: m.latencies ? latencies : [] });
  } else if (m.cmd === "reset") {
    latencies = [];
    recording = true;
    process.send!({ received });
  } else if (m.cmd === "close") {
    await Promise.all(clients.map((c) => c.dispose()));
    process.send!({ ok: true });
    process.exit(0);
  }
});
process.send!({ ready: true });
