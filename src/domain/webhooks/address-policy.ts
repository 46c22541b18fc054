/**
 * The SSRF guard of webhook deliveries: which addresses a delivery may connect to.
 *
 * Only publicly routable unicast is allowed. Refused: private (RFC 1918), loopback,
 * link-local (where cloud metadata lives: 169.254.169.254), CGNAT, unspecified, multicast,
 * broadcast, documentation, benchmarking and reserved ranges, unique-local and link-local
 * IPv6 (fd00:ec2::254 is AWS's metadata over IPv6), anything outside 2000::/3, and IPv4
 * embedded in IPv6 (mapped, NAT64, 6to4) when the embedded address is refused. Known
 * metadata host names are refused by name as well. Hosts in WEBHOOK_ALLOWED_HOSTS are
 * exempt.
 *
 * The check runs in the socket's DNS lookup ({@link AddressPolicy.lookup}), i.e. on the
 * address actually connected to, at every connection: a name that resolves to a public
 * address at registration and to 127.0.0.1 later (DNS rebinding) is still refused. Literal
 * IP hosts never reach a lookup, so {@link AddressPolicy.refusalForHost} checks them first.
 * Names are resolved by a {@link HostResolver} (DNS with its own timeout, off the shared
 * thread pool), never by dns.lookup.
 */
import { BlockList, isIP, type LookupFunction } from "node:net";
import { BadUserInputError } from "../../common/errors";
import { HostResolver } from "./host-resolver";

export type AddressClass =
  | "public" | "unspecified" | "private" | "cgnat" | "loopback" | "link-local" | "multicast"
  | "documentation" | "benchmarking" | "reserved" | "unique-local" | "site-local" | "invalid";

/** IPv4 special-purpose ranges (IANA registry); everything else is public unicast. */
const V4_RANGES: [string, number, AddressClass][] = [
  ["0.0.0.0", 8, "unspecified"],
  ["10.0.0.0", 8, "private"],
  ["100.64.0.0", 10, "cgnat"],
  ["127.0.0.0", 8, "loopback"],
  ["169.254.0.0", 16, "link-local"],
  ["172.16.0.0", 12, "private"],
  ["192.0.0.0", 24, "reserved"],
  ["192.0.2.0", 24, "documentation"],
  ["192.88.99.0", 24, "reserved"],
  ["192.168.0.0", 16, "private"],
  ["198.18.0.0", 15, "benchmarking"],
  ["198.51.100.0", 24, "documentation"],
  ["203.0.113.0", 24, "documentation"],
  ["224.0.0.0", 4, "multicast"],
  ["240.0.0.0", 4, "reserved"], // and 255.255.255.255, broadcast
];

const v4Lists = V4_RANGES.map(([net, prefix, cls]) => {
  const list = new BlockList();
  list.addSubnet(net, prefix, "ipv4");
  return { list, cls };
});

function classifyV4(ip: string): AddressClass {
  for (const { list, cls } of v4Lists) if (list.check(ip, "ipv4")) return cls;
  return "public";
}

/** The 16 bytes of an IPv6 address (zone id dropped), or null when it is not one. */
export function parseIPv6(input: string): number[] | null {
  let s = input.replace(/%.*$/, "");
  if (isIP(s) !== 6) return null;
  const dotted = /^(.*:)(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(s);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(2).map(Number);
    s = `${dotted[1]}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = s.split("::");
  const head = halves[0] ? halves[0].split(":") : [];
  const tail = halves.length > 1 && halves[1] ? halves[1].split(":") : [];
  const groups = halves.length > 1 ? [...head, ...Array<string>(8 - head.length - tail.length).fill("0"), ...tail] : head;
  if (groups.length !== 8) return null;
  return groups.flatMap((g) => {
    const n = parseInt(g, 16);
    return [n >> 8, n & 0xff];
  });
}

const v4Of = (b: number[], at: number): string => b.slice(at, at + 4).join(".");
const zeros = (b: number[], from: number, to: number): boolean => b.slice(from, to).every((x) => x === 0);

function classifyV6(b: number[]): AddressClass {
  const w = (i: number) => (b[2 * i] << 8) | b[2 * i + 1]; // the i-th 16-bit group
  if (zeros(b, 0, 10) && b[10] === 0xff && b[11] === 0xff) return classifyV4(v4Of(b, 12)); // ::ffff:a.b.c.d (mapped)
  if (zeros(b, 0, 15)) return b[15] === 1 ? "loopback" : b[15] === 0 ? "unspecified" : "reserved";
  if (zeros(b, 0, 12)) return "reserved"; // ::a.b.c.d, IPv4-compatible (deprecated)
  if (zeros(b, 0, 8) && w(4) === 0xffff && w(5) === 0) return "reserved"; // ::ffff:0:a.b.c.d (SIIT)
  if (w(0) === 0x64 && w(1) === 0xff9b && zeros(b, 4, 12)) return classifyV4(v4Of(b, 12)); // NAT64 well-known prefix
  if (w(0) === 0x64 && w(1) === 0xff9b && w(2) === 1) return "reserved"; // local-use NAT64
  if (w(0) === 0x2002) return classifyV4(v4Of(b, 2)); // 6to4
  if ((b[0] & 0xfe) === 0xfc) return "unique-local"; // fc00::/7
  if (b[0] === 0xfe && (b[1] & 0xc0) === 0x80) return "link-local"; // fe80::/10
  if (b[0] === 0xfe && (b[1] & 0xc0) === 0xc0) return "site-local"; // fec0::/10
  if (b[0] === 0xff) return "multicast";
  if ((b[0] & 0xe0) !== 0x20) return "reserved"; // not global unicast (2000::/3)
  if (w(0) === 0x2001 && w(1) === 0x0db8) return "documentation";
  if (w(0) === 0x2001 && w(1) < 0x0200) return "reserved"; // 2001::/23: Teredo, benchmarking, ORCHID…
  if (w(0) === 0x3fff && w(1) < 0x1000) return "documentation"; // 3fff::/20
  if (w(0) === 0x5f00) return "reserved"; // SRv6 SIDs
  return "public";
}

/** What kind of address `ip` is; only "public" may be connected to. */
export function classifyAddress(ip: string): AddressClass {
  const bare = ip.startsWith("[") && ip.endsWith("]") ? ip.slice(1, -1) : ip;
  const v = isIP(bare.replace(/%.*$/, ""));
  if (v === 4) return classifyV4(bare);
  if (v === 6) {
    const bytes = parseIPv6(bare);
    return bytes ? classifyV6(bytes) : "invalid";
  }
  return "invalid";
}

/** Cloud metadata services reached by name (their addresses are refused anyway). */
const METADATA_HOSTS = new Set(["metadata.google.internal", "metadata.goog", "metadata", "instance-data", "instance-data.ec2.internal", "metadata.azure.internal"]);

/** Thrown by the guarded lookup; the sender logs the attempt as BLOCKED. */
export class BlockedAddressError extends Error {
  readonly code = "ERR_WEBHOOK_ADDRESS_BLOCKED";
  constructor(message: string) {
    super(message);
    this.name = "BlockedAddressError";
  }
}

const normaliseHost = (h: string): string => {
  const lower = h.toLowerCase().replace(/\.$/, "");
  return lower.startsWith("[") && lower.endsWith("]") ? lower.slice(1, -1) : lower;
};

export class AddressPolicy {
  private readonly names = new Set<string>();
  private readonly ranges = new BlockList();

  /**
   * @param allowedHosts WEBHOOK_ALLOWED_HOSTS: host names, IP addresses or CIDR ranges (e.g. 10.1.0.0/16).
   * @param resolver how names become addresses at connect (WEBHOOK_DNS_TIMEOUT_MS).
   */
  constructor(allowedHosts: readonly string[], private readonly resolver: HostResolver = new HostResolver()) {
    for (const raw of allowedHosts) {
      const h = normaliseHost(raw.trim());
      const cidr = /^(.+)\/(\d{1,3})$/.exec(h);
      const ip = cidr ? cidr[1] : h;
      const v = isIP(ip);
      if (v) this.ranges.addSubnet(ip, cidr ? Number(cidr[2]) : v === 4 ? 32 : 128, v === 4 ? "ipv4" : "ipv6");
      else if (h) this.names.add(h);
    }
  }

  /** Whether the URL's host is exempt from the guard (named in, or an IP inside, WEBHOOK_ALLOWED_HOSTS). */
  isAllowListed(hostname: string): boolean {
    const h = normaliseHost(hostname);
    if (this.names.has(h)) return true;
    const v = isIP(h);
    return v !== 0 && this.ranges.check(h, v === 4 ? "ipv4" : "ipv6");
  }

  /** Why connecting to `address` (a resolved IP) is refused, or null when it is allowed. */
  refusalForAddress(address: string): string | null {
    const cls = classifyAddress(address);
    return cls === "public" ? null : `${address} is a ${cls} address`;
  }

  /**
   * What can be decided from the host alone: a literal IP is checked here (no lookup will
   * run for it), a metadata name is refused by name. Names are otherwise checked at connect.
   */
  refusalForHost(hostname: string): string | null {
    if (this.isAllowListed(hostname)) return null;
    const h = normaliseHost(hostname);
    if (isIP(h)) return this.refusalForAddress(h);
    if (METADATA_HOSTS.has(h)) return `${h} is a cloud metadata host`;
    return null;
  }

  /**
   * A URL a user registers (endpoint url, createGeneration callbackUrl): absolute http(s),
   * no credentials, and not a refused literal address. Throws BAD_USER_INPUT naming `field`.
   */
  checkUrl(raw: string, field: string): URL {
    const bad = (why: string) => new BadUserInputError(`${field} ${why}`, { field });
    if (typeof raw !== "string" || raw.length > 2048) throw bad("must be a URL of at most 2048 characters");
    // The URL parser silently drops tabs and newlines and strips the ends: refuse, never rewrite.
    if (/[\u0000-\u001f\u007f-\u009f]/.test(raw)) throw bad("contains a control character (NUL, tab, newline, …); send the URL exactly, percent-encoded");
    if (raw.trim() !== raw) throw bad("has leading or trailing whitespace");
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw bad("is not a valid absolute URL");
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") throw bad(`must be an http or https URL (got ${url.protocol.replace(/:$/, "")})`);
    if (!url.hostname) throw bad("has no host");
    if (url.username || url.password) throw bad("must not contain credentials (deliveries are authenticated by their signature)");
    const refusal = this.refusalForHost(url.hostname);
    if (refusal) throw bad(`is not allowed: ${refusal} (only public addresses, or hosts in WEBHOOK_ALLOWED_HOSTS)`);
    return url;
  }

  /**
   * A socket `lookup` that refuses non-public addresses: every address a name resolves to
   * must be allowed (an attacker's name cannot mix a public and a private answer).
   */
  readonly lookup: LookupFunction = (hostname, options, callback) => {
    const allowListed = this.isAllowListed(hostname);
    const byName = allowListed ? null : this.refusalForHost(hostname);
    if (byName) return process.nextTick(() => callback(new BlockedAddressError(byName), "", 4));
    const family = options.family === 4 || options.family === "IPv4" ? 4 : options.family === 6 || options.family === "IPv6" ? 6 : 0;
    this.resolver.resolve(hostname, family).then(
      (addresses) => {
        if (!allowListed)
          for (const a of addresses) {
            const refusal = this.refusalForAddress(a.address);
            if (refusal) return callback(new BlockedAddressError(`${hostname} resolves to ${refusal}`), "", 4);
          }
        if (options.all) callback(null, addresses);
        else callback(null, addresses[0].address, addresses[0].family);
      },
      (err: NodeJS.ErrnoException) => callback(err, "", 4),
    );
  };
}
