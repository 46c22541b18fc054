import { describe, expect, it } from "vitest";
import { AddressPolicy, classifyAddress, parseIPv6 } from "./address-policy";

describe("classifyAddress", () => {
  it.each([
    ["8.8.8.8", "public"],
    ["1.1.1.1", "public"],
    ["93.184.216.34", "public"],
    ["172.15.255.255", "public"],
    ["172.32.0.1", "public"],
    ["100.63.255.255", "public"],
    ["100.128.0.1", "public"],
    ["0.0.0.0", "unspecified"],
    ["10.0.0.1", "private"],
    ["172.16.0.1", "private"],
    ["172.31.255.255", "private"],
    ["192.168.1.10", "private"],
    ["127.0.0.1", "loopback"],
    ["127.255.255.254", "loopback"],
    ["169.254.169.254", "link-local"],
    ["100.64.0.1", "cgnat"],
    ["100.100.100.200", "cgnat"], // Alibaba Cloud metadata
    ["192.0.2.1", "documentation"],
    ["198.18.0.1", "benchmarking"],
    ["224.0.0.1", "multicast"],
    ["255.255.255.255", "reserved"],
    ["240.0.0.1", "reserved"],
  ])("IPv4 %s → %s", (ip, cls) => expect(classifyAddress(ip)).toBe(cls));

  it.each([
    ["2606:4700:4700::1111", "public"],
    ["2a00:1450:4001:80b::200e", "public"],
    ["::1", "loopback"],
    ["::", "unspecified"],
    ["fe80::1", "link-local"],
    ["fe80::1%eth0", "link-local"],
    ["fd00:ec2::254", "unique-local"], // AWS metadata over IPv6
    ["fc00::1", "unique-local"],
    ["fec0::1", "site-local"],
    ["ff02::1", "multicast"],
    ["2001:db8::1", "documentation"],
    ["2001::1", "reserved"], // Teredo
    ["100::1", "reserved"],
    ["::7f00:1", "reserved"], // IPv4-compatible
    ["[::1]", "loopback"],
  ])("IPv6 %s → %s", (ip, cls) => expect(classifyAddress(ip)).toBe(cls));

  it.each([
    ["::ffff:127.0.0.1", "loopback"],
    ["::ffff:7f00:1", "loopback"],
    ["::ffff:10.0.0.1", "private"],
    ["::ffff:169.254.169.254", "link-local"],
    ["::ffff:a9fe:a9fe", "link-local"],
    ["0:0:0:0:0:ffff:192.168.0.1", "private"],
    ["::ffff:8.8.8.8", "public"],
    ["64:ff9b::10.0.0.1", "private"], // NAT64
    ["64:ff9b::8.8.8.8", "public"],
    ["2002:7f00:1::", "loopback"], // 6to4 of 127.0.0.1
    ["2002:0808:0808::1", "public"],
    ["::ffff:0:7f00:1", "reserved"], // SIIT
  ])("IPv4 inside IPv6 %s → %s", (ip, cls) => expect(classifyAddress(ip)).toBe(cls));

  it("rejects what is not an address", () => {
    expect(classifyAddress("localhost")).toBe("invalid");
    expect(classifyAddress("127.1")).toBe("invalid");
    expect(classifyAddress("")).toBe("invalid");
  });

  it("parses IPv6 forms into 16 bytes", () => {
    expect(parseIPv6("::1")).toEqual([...Array(15).fill(0), 1]);
    expect(parseIPv6("1::")).toEqual([0, 1, ...Array(14).fill(0)]);
    expect(parseIPv6("::ffff:1.2.3.4")!.slice(10)).toEqual([0xff, 0xff, 1, 2, 3, 4]);
    expect(parseIPv6("1:2:3:4:5:6:7:8")).toEqual([0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8]);
    expect(parseIPv6("10.0.0.1")).toBeNull();
  });
});

describe("AddressPolicy", () => {
  const policy = new AddressPolicy(["hooks.internal.example", "127.0.0.1", "10.1.0.0/16", "LocalHost."]);

  it("exempts allow-listed names, IPs and ranges only", () => {
    expect(policy.refusalForHost("hooks.internal.example")).toBeNull();
    expect(policy.refusalForHost("localhost")).toBeNull();
    expect(policy.refusalForHost("127.0.0.1")).toBeNull();
    expect(policy.refusalForHost("10.1.2.3")).toBeNull();
    expect(policy.refusalForHost("10.2.0.1")).toMatch(/private/);
    expect(policy.refusalForHost("127.0.0.2")).toMatch(/loopback/);
    expect(policy.refusalForHost("[::1]")).toMatch(/loopback/);
    expect(policy.refusalForHost("metadata.google.internal")).toMatch(/metadata/);
    expect(policy.refusalForHost("example.com")).toBeNull(); // a name: checked on the address at connect
  });

  it("checks registered URLs with BAD_USER_INPUT naming the field", () => {
    const codeAndField = (url: string) => {
      try {
        policy.checkUrl(url, "callbackUrl");
        return null;
      } catch (e) {
        const x = (e as { extensions: { code: string; field: string } }).extensions;
        return `${x.code}:${x.field}`;
      }
    };
    expect(codeAndField("https://example.com/hook")).toBeNull();
    expect(codeAndField("http://127.0.0.1:9999/hook")).toBeNull();
    for (const bad of ["not a url", "ftp://example.com/x", "javascript:alert(1)", "/relative", "https://user:pw@example.com/", "http://169.254.169.254/latest/meta-data", "http://[fd00:ec2::254]/", "http://0x7f.0.0.2/", "http://2130706434/", "http://metadata.google.internal/"])
      expect(codeAndField(bad), bad).toBe("BAD_USER_INPUT:callbackUrl");
  });

  it("the guarded lookup refuses names resolving to refused addresses", async () => {
    const strict = new AddressPolicy([]);
    const lookup = (host: string, all: boolean) =>
      new Promise<unknown>((resolve, reject) => strict.lookup(host, { all }, (err, address) => (err ? reject(err) : resolve(address))));
    await expect(lookup("localhost", false)).rejects.toMatchObject({ code: "ERR_WEBHOOK_ADDRESS_BLOCKED" });
    await expect(lookup("localhost", true)).rejects.toThrow(/loopback/);
    await expect(lookup("metadata.google.internal", true)).rejects.toThrow(/metadata/);
    const lenient = new AddressPolicy(["localhost"]);
    const addr = await new Promise((resolve, reject) => lenient.lookup("localhost", {}, (err, a) => (err ? reject(err) : resolve(a))));
    expect(classifyAddress(addr as string)).toBe("loopback");
  });
});
