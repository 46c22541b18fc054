/**
 * One webhook POST: through agents whose DNS lookup is the SSRF guard, never following
 * redirects (a 3xx is a failed attempt), within one timeout from connect to the last byte
 * read, keeping at most a short excerpt of the response.
 */
import http from "node:http";
import https from "node:https";
import type { AddressPolicy } from "./address-policy";

/** Longest response excerpt kept per attempt (characters). */
export const EXCERPT_CHARS = 500;
const READ_LIMIT_BYTES = 4 * EXCERPT_CHARS;

export interface SendResult {
  outcome: "delivered" | "failed" | "blocked";
  statusCode: number | null;
  latencyMs: number;
  excerpt: string | null;
  error: string | null;
}

function blockedIn(err: unknown): Error | undefined {
  if (!err || typeof err !== "object") return undefined;
  if ((err as { code?: string }).code === "ERR_WEBHOOK_ADDRESS_BLOCKED") return err as Error;
  const inner = (err as { errors?: unknown[] }).errors; // AggregateError (happy eyeballs)
  return Array.isArray(inner) ? inner.map(blockedIn).find(Boolean) : undefined;
}

export class WebhookSender {
  private readonly agents: { http: http.Agent; https: https.Agent };

  constructor(private readonly policy: AddressPolicy, private readonly timeoutMs: number) {
    // keepAlive off: every delivery opens a fresh connection, so every one passes the lookup.
    this.agents = {
      http: new http.Agent({ keepAlive: false, lookup: policy.lookup }),
      https: new https.Agent({ keepAlive: false, lookup: policy.lookup }),
    };
  }

  send(rawUrl: string, body: string, headers: Record<string, string>): Promise<SendResult> {
    const started = performance.now();
    const ms = () => Math.round(performance.now() - started);
    let url: URL;
    try {
      url = new URL(rawUrl);
      if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error(`unsupported protocol ${url.protocol}`);
    } catch (err) {
      return Promise.resolve({ outcome: "failed", statusCode: null, latencyMs: 0, excerpt: null, error: `invalid URL: ${(err as Error).message}` });
    }
    // A literal IP never reaches the lookup: decide it here.
    const refusal = this.policy.refusalForHost(url.hostname);
    if (refusal) return Promise.resolve({ outcome: "blocked", statusCode: null, latencyMs: 0, excerpt: null, error: `blocked: ${refusal}` });

    return new Promise<SendResult>((resolve) => {
      let done = false;
      const finish = (r: Omit<SendResult, "latencyMs">) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        resolve({ ...r, latencyMs: ms() });
      };
      const isHttps = url.protocol === "https:";
      const req = (isHttps ? https : http).request(url, {
        method: "POST",
        agent: isHttps ? this.agents.https : this.agents.http,
        lookup: this.policy.lookup,
        headers: { ...headers, "content-type": "application/json", "content-length": String(Buffer.byteLength(body)), "user-agent": "Switchboard-Webhooks/1" },
      });
      const timer = setTimeout(() => req.destroy(Object.assign(new Error(`timed out after ${this.timeoutMs} ms`), { code: "ETIMEDOUT" })), this.timeoutMs);
      req.on("error", (err) => {
        const blocked = blockedIn(err);
        if (blocked) finish({ outcome: "blocked", statusCode: null, excerpt: null, error: `blocked: ${blocked.message}` });
        else finish({ outcome: "failed", statusCode: null, excerpt: null, error: err.message || String((err as { code?: string }).code ?? err) });
      });
      req.on("response", (res) => {
        const status = res.statusCode ?? 0;
        const chunks: Buffer[] = [];
        let size = 0;
        const settle = () => {
          const text = Buffer.concat(chunks).toString("utf8");
          const cut = text.slice(0, EXCERPT_CHARS);
          const excerpt = cut ? (/[\ud800-\udbff]$/.test(cut) ? cut.slice(0, -1) : cut) : null; // never half a surrogate pair
          const ok = status >= 200 && status < 300;
          const error = ok ? null : status >= 300 && status < 400 ? `HTTP ${status} (redirects are not followed)` : `HTTP ${status}`;
          finish({ outcome: ok ? "delivered" : "failed", statusCode: status, excerpt, error });
          res.destroy();
        };
        res.on("data", (c: Buffer) => {
          if (size < READ_LIMIT_BYTES) chunks.push(c);
          size += c.length;
          if (size >= READ_LIMIT_BYTES) settle(); // enough for the excerpt: stop reading
        });
        res.on("end", settle);
        res.on("error", settle);
        res.on("close", settle);
      });
      req.end(body);
    });
  }

  close(): void {
    this.agents.http.destroy();
    this.agents.https.destroy();
  }
}
