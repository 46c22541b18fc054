/**
 * Name resolution for webhook targets, off Node's shared thread pool.
 *
 * `dns.lookup` (what sockets use by default) runs getaddrinfo on libuv's thread pool, four
 * threads shared with every fs call and every other lookup in the process: a handful of slow
 * lookups for a dead name blocks all of them, and a process delivering to many dead hosts
 * ends up timing out every name-based delivery. This resolver asks DNS servers directly
 * (c-ares, `dns.promises.Resolver`, event-driven, no threads) within its own timeout, and
 * answers from the hosts file first (`/etc/hosts`, re-read at most once a minute) so local
 * names keep working; `localhost` and `*.localhost` are loopback (RFC 6761) even without one.
 */
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { Resolver } from "node:dns/promises";
import type { LookupAddress } from "node:dns";
import { isIP } from "node:net";

export interface HostResolverOptions {
  /** The longest a lookup may take in all (both address families, every try), ms; default 2000. */
  timeoutMs?: number;
  /** Tries per DNS server (UDP loses packets), default 2. */
  tries?: number;
  /** DNS servers ("ip" or "ip:port"); default the system's (resolv.conf). */
  servers?: string[];
  /** The hosts file, default /etc/hosts (null: none). */
  hostsFile?: string | null;
}

const HOSTS_TTL_MS = 60_000;

/** name → addresses, from a hosts file's text. */
export function parseHosts(text: string): Map<string, LookupAddress[]> {
  const map = new Map<string, LookupAddress[]>();
  for (const raw of text.split("\n")) {
    const [ip, ...names] = raw.replace(/#.*/, "").trim().split(/\s+/);
    const family = ip ? isIP(ip.replace(/%.*$/, "")) : 0;
    if (!family) continue;
    for (const n of names) {
      const name = n.toLowerCase().replace(/\.$/, "");
      const list = map.get(name) ?? [];
      if (!list.some((a) => a.address === ip)) list.push({ address: ip, family });
      map.set(name, list);
    }
  }
  return map;
}

const timeoutError = (hostname: string, ms: number) =>
  Object.assign(new Error(`DNS lookup of ${hostname} timed out after ${ms} ms`), { code: "ETIMEOUT", hostname });

export class HostResolver {
  private readonly resolver: Resolver;
  private readonly timeoutMs: number;
  private readonly hostsFile: string | null;
  private hosts = new Map<string, LookupAddress[]>();
  private hostsReadAt = 0;
  private reading?: Promise<void>;

  constructor(opts: HostResolverOptions = {}) {
    this.timeoutMs = opts.timeoutMs ?? 2000;
    const tries = Math.max(1, opts.tries ?? 2);
    // c-ares' timeout is per try (and grows on retries); the race in resolve() bounds the whole lookup.
    this.resolver = new Resolver({ timeout: Math.max(50, Math.floor(this.timeoutMs / tries)), tries });
    if (opts.servers?.length) this.resolver.setServers(opts.servers);
    this.hostsFile = opts.hostsFile === undefined ? "/etc/hosts" : opts.hostsFile;
    if (this.hostsFile) {
      try {
        this.hosts = parseHosts(readFileSync(this.hostsFile, "utf8")); // once, at start
      } catch {
        // no hosts file: DNS only
      }
      this.hostsReadAt = Date.now();
    }
  }

  /** Re-reads the hosts file in the background when stale; lookups use the copy they have. */
  private refreshHosts(): void {
    if (!this.hostsFile || this.reading || Date.now() - this.hostsReadAt < HOSTS_TTL_MS) return;
    this.hostsReadAt = Date.now();
    this.reading = readFile(this.hostsFile, "utf8")
      .then((t) => void (this.hosts = parseHosts(t)), () => undefined)
      .finally(() => (this.reading = undefined));
  }

  /**
   * Every address of `hostname` (family 4, 6, or 0 for both), IPv4 first. Rejects with a
   * `code` like dns.lookup's: ENOTFOUND (no such name / no addresses), ETIMEOUT, ESERVFAIL…
   */
  async resolve(hostname: string, family: 0 | 4 | 6 = 0): Promise<LookupAddress[]> {
    const name = hostname.toLowerCase().replace(/\.$/, "");
    const want = (a: LookupAddress) => family === 0 || a.family === family;
    const literal = isIP(name);
    if (literal) return this.found(hostname, [{ address: name, family: literal }].filter(want));
    this.refreshHosts();
    const fromHosts = this.hosts.get(name);
    if (fromHosts?.length) return this.found(hostname, fromHosts.filter(want));
    if (name === "localhost" || name.endsWith(".localhost"))
      return this.found(hostname, [{ address: "127.0.0.1", family: 4 }, { address: "::1", family: 6 }].filter(want));

    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(timeoutError(hostname, this.timeoutMs)), this.timeoutMs);
    });
    try {
      const [v4, v6] = await Promise.race([
        Promise.allSettled([
          family === 6 ? Promise.resolve([]) : this.resolver.resolve4(name),
          family === 4 ? Promise.resolve([]) : this.resolver.resolve6(name),
        ]),
        deadline,
      ]);
      const addresses = [
        ...(v4.status === "fulfilled" ? v4.value.map((address) => ({ address, family: 4 })) : []),
        ...(v6.status === "fulfilled" ? v6.value.map((address) => ({ address, family: 6 })) : []),
      ];
      if (addresses.length) return addresses;
      // Neither family answered: a real failure (timeout, SERVFAIL) says more than "no data".
      const errors = [v4, v6].filter((r): r is PromiseRejectedResult => r.status === "rejected").map((r) => r.reason as { code?: string });
      const telling = errors.find((e) => e.code && !["ENODATA", "ENOTFOUND"].includes(e.code));
      if (telling) throw telling;
      return this.found(hostname, []);
    } finally {
      clearTimeout(timer);
    }
  }

  private found(hostname: string, addresses: LookupAddress[]): LookupAddress[] {
    if (!addresses.length) throw Object.assign(new Error(`${hostname} has no addresses`), { code: "ENOTFOUND", hostname });
    return addresses;
  }

  /** Stops lookups in flight (they fail with ECANCELLED). */
  cancel(): void {
    this.resolver.cancel();
  }
}
