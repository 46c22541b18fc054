import dgram from "node:dgram";
import { mkdtempSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AddressPolicy } from "./address-policy";
import { HostResolver, parseHosts } from "./host-resolver";

/**
 * A tiny authoritative DNS server on 127.0.0.1 speaking the real wire format (RFC 1035):
 * A/AAAA answers from a table, NXDOMAIN for unknown names, and silence for "black hole"
 * names — a dead resolver path, the case that used to clog Node's thread pool.
 */
function fakeDns(records: Record<string, { A?: string[]; AAAA?: string[] } | "blackhole">) {
  const socket = dgram.createSocket("udp4");
  let queries = 0;
  socket.on("message", (msg, rinfo) => {
    queries++;
    let at = 12;
    const labels: string[] = [];
    while (msg[at] !== 0) {
      labels.push(msg.subarray(at + 1, at + 1 + msg[at]).toString("ascii"));
      at += msg[at] + 1;
    }
    const qEnd = at + 5; // zero byte + qtype + qclass
    const qtype = msg.readUInt16BE(at + 1);
    const name = labels.join(".").toLowerCase();
    const rec = records[name];
    if (rec === "blackhole") return; // never answers
    const type = qtype === 1 ? "A" : qtype === 28 ? "AAAA" : null;
    const values = rec && type ? (rec[type] ?? []) : [];
    const answers = values.map((v) => {
      const rdata = type === "A" ? Buffer.from(v.split(".").map(Number)) : Buffer.from(v.split(":").flatMap((g) => [parseInt(g, 16) >> 8, parseInt(g, 16) & 0xff]));
      const rr = Buffer.alloc(12);
      rr.writeUInt16BE(0xc00c, 0); // pointer to the question's name
      rr.writeUInt16BE(qtype, 2);
      rr.writeUInt16BE(1, 4); // IN
      rr.writeUInt32BE(60, 6);
      rr.writeUInt16BE(rdata.length, 10);
      return Buffer.concat([rr, rdata]);
    });
    const header = Buffer.alloc(12);
    msg.copy(header, 0, 0, 2); // id
    header.writeUInt16BE(rec ? 0x8580 : 0x8583, 2); // response, authoritative, RD/RA; NXDOMAIN when unknown
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(answers.length, 6);
    socket.send(Buffer.concat([header, msg.subarray(12, qEnd), ...answers]), rinfo.port, rinfo.address);
  });
  return {
    start: () => new Promise<string>((r) => socket.bind(0, "127.0.0.1", () => r(`127.0.0.1:${socket.address().port}`))),
    stop: () => new Promise<void>((r) => socket.close(() => r())),
    queries: () => queries,
  };
}

describe("HostResolver: webhook names resolved by DNS with a timeout, off the thread pool", () => {
  const dns = fakeDns({
    "public.test": { A: ["8.8.8.8"], AAAA: ["2001:4860:4860:0:0:0:0:8888"] },
    "private.test": { A: ["10.0.0.5"] },
    "mixed.test": { A: ["8.8.4.4", "192.168.1.1"] },
    "v6only.test": { AAAA: ["2606:4700:0:0:0:0:0:1111"] },
    "dead.test": "blackhole",
  });
  let server: string;
  let hostsFile: string;

  beforeAll(async () => {
    server = await dns.start();
    hostsFile = join(mkdtempSync(join(tmpdir(), "sb-hosts-")), "hosts");
    writeFileSync(hostsFile, "# comment\n127.0.0.1 localhost\n10.9.9.9  receiver.internal  alias.internal # trailing\n::1 localhost ip6-localhost\n");
  });
  afterAll(() => dns.stop());

  const resolver = (o: { timeoutMs?: number; hostsFile?: string | null } = {}) => new HostResolver({ servers: [server], hostsFile: null, ...o });

  it("parses a hosts file", () => {
    const m = parseHosts("127.0.0.1 localhost\n# x\n10.0.0.1 a.example B.Example. # c\nnot-an-ip foo\n::1 localhost\n");
    expect(m.get("localhost")).toEqual([{ address: "127.0.0.1", family: 4 }, { address: "::1", family: 6 }]);
    expect(m.get("b.example")).toEqual([{ address: "10.0.0.1", family: 4 }]);
    expect(m.has("foo")).toBe(false);
  });

  it("answers A and AAAA from the DNS server, by family; unknown names are ENOTFOUND", async () => {
    const r = resolver();
    expect(await r.resolve("public.test")).toEqual([{ address: "8.8.8.8", family: 4 }, { address: "2001:4860:4860::8888", family: 6 }]);
    expect(await r.resolve("PUBLIC.test.", 4)).toEqual([{ address: "8.8.8.8", family: 4 }]);
    expect(await r.resolve("v6only.test")).toEqual([{ address: "2606:4700::1111", family: 6 }]);
    await expect(r.resolve("v6only.test", 4)).rejects.toMatchObject({ code: "ENOTFOUND" });
    await expect(r.resolve("nope.test")).rejects.toMatchObject({ code: "ENOTFOUND" });
  });

  it("reads the hosts file first; localhost is loopback even without one", async () => {
    const withHosts = resolver({ hostsFile });
    expect(await withHosts.resolve("receiver.internal")).toEqual([{ address: "10.9.9.9", family: 4 }]);
    expect(await withHosts.resolve("alias.internal")).toEqual([{ address: "10.9.9.9", family: 4 }]);
    expect(await withHosts.resolve("localhost", 6)).toEqual([{ address: "::1", family: 6 }]);
    const none = resolver();
    expect(await none.resolve("localhost")).toEqual([{ address: "127.0.0.1", family: 4 }, { address: "::1", family: 6 }]);
    expect(await none.resolve("app.localhost", 4)).toEqual([{ address: "127.0.0.1", family: 4 }]);
  });

  it("a server that never answers fails the lookup with ETIMEOUT within its own timeout, and the thread pool stays free meanwhile", async () => {
    const r = resolver({ timeoutMs: 1500 });
    const started = Date.now();
    // Far more lookups than libuv has threads (4): with dns.lookup, each would hold one.
    const dead = Promise.all(Array.from({ length: 32 }, () => r.resolve("dead.test").then(() => "resolved", (e: { code?: string }) => e.code)));
    // fs work uses that same thread pool: it is not queued behind the dead lookups.
    const fsReads = Promise.all(Array.from({ length: 8 }, () => readFile(hostsFile, "utf8")));
    expect(await Promise.race([fsReads.then(() => "fs first"), dead.then(() => "dns first")])).toBe("fs first");
    expect(new Set(await dead)).toEqual(new Set(["ETIMEOUT"]));
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(1400);
    expect(took).toBeLessThan(10_000); // generous: a loaded machine
    // A good name right after still resolves at once.
    expect(await r.resolve("public.test", 4)).toEqual([{ address: "8.8.8.8", family: 4 }]);
  });

  it("the address guard refuses names resolving to a refused address through it (every answer checked)", async () => {
    const policy = new AddressPolicy([], resolver({ timeoutMs: 300 }));
    const lookup = (host: string, all: boolean) =>
      new Promise<unknown>((resolve, reject) => policy.lookup(host, { all }, (err, address) => (err ? reject(err) : resolve(address))));
    await expect(lookup("private.test", false)).rejects.toThrow("private.test resolves to 10.0.0.5 is a private address");
    await expect(lookup("mixed.test", true)).rejects.toMatchObject({ code: "ERR_WEBHOOK_ADDRESS_BLOCKED" });
    expect(await lookup("public.test", false)).toBe("8.8.8.8");
    expect(await lookup("public.test", true)).toEqual([{ address: "8.8.8.8", family: 4 }, { address: "2001:4860:4860::8888", family: 6 }]);
    await expect(lookup("dead.test", true)).rejects.toMatchObject({ code: "ETIMEOUT" });
    const allowed = new AddressPolicy(["private.test"], resolver());
    expect(await new Promise((res, rej) => allowed.lookup("private.test", {}, (e, a) => (e ? rej(e) : res(a))))).toBe("10.0.0.5");
  });
});
