import { describe, it, expect } from "vitest";
import { MAX_CLOCK_SKEW_SECONDS, parseFilesPath, signFilePath, verifyFileSignature as verifyWithTtl } from "./signed-url";

const SECRET = "test-secret";
const NOW = 1_700_000_000;
const TTL = 3600;

/** The check with the default FILE_URL_TTL_SECONDS. */
const verifyFileSignature = (key: string, exp: string | undefined, sig: string | undefined, secret: string, now: number) =>
  verifyWithTtl(key, exp, sig, secret, now, TTL);

/** Splits a signed path into the pieces a request handler would see. */
function parts(path: string): { key: string | null; exp: string | undefined; sig: string | undefined } {
  const url = new URL(path, "http://localhost");
  return {
    key: parseFilesPath(url.pathname),
    exp: url.searchParams.get("exp") ?? undefined,
    sig: url.searchParams.get("sig") ?? undefined,
  };
}

describe("signFilePath / verifyFileSignature", () => {
  it("round-trips a key with nested segments and special characters", () => {
    const key = "gen_1/ä image #1?.png";
    const path = signFilePath(key, SECRET, NOW + 60);
    expect(path.startsWith("/files/gen_1/%C3%A4%20image%20%231%3F.png?exp=")).toBe(true);
    const p = parts(path);
    expect(p.key).toBe(key);
    expect(verifyFileSignature(p.key!, p.exp, p.sig, SECRET, NOW)).toBe("ok");
  });

  it("reports expired at and after the expiry second", () => {
    const p = parts(signFilePath("a.png", SECRET, NOW));
    expect(verifyFileSignature("a.png", p.exp, p.sig, SECRET, NOW)).toBe("expired");
    expect(verifyFileSignature("a.png", p.exp, p.sig, SECRET, NOW + 1)).toBe("expired");
    expect(verifyFileSignature("a.png", p.exp, p.sig, SECRET, NOW - 1)).toBe("ok");
  });

  it("rejects a tampered key", () => {
    const p = parts(signFilePath("gen_1/0.png", SECRET, NOW + 60));
    expect(verifyFileSignature("gen_2/0.png", p.exp, p.sig, SECRET, NOW)).toBe("invalid");
  });

  it("rejects a tampered signature, including a truncated or extended one", () => {
    const p = parts(signFilePath("a.png", SECRET, NOW + 60));
    const sig = p.sig!;
    const flipped = (sig[0] === "A" ? "B" : "A") + sig.slice(1);
    expect(verifyFileSignature("a.png", p.exp, flipped, SECRET, NOW)).toBe("invalid");
    expect(verifyFileSignature("a.png", p.exp, sig.slice(0, -2), SECRET, NOW)).toBe("invalid");
    expect(verifyFileSignature("a.png", p.exp, sig + "AAAA", SECRET, NOW)).toBe("invalid");
    expect(verifyFileSignature("a.png", p.exp, sig, "other-secret", NOW)).toBe("invalid");
  });

  it("rejects a tampered expiry (even an expired signature cannot be extended)", () => {
    const p = parts(signFilePath("a.png", SECRET, NOW - 10));
    expect(verifyFileSignature("a.png", String(NOW + 3600), p.sig, SECRET, NOW)).toBe("invalid");
  });

  it("rejects missing and malformed input", () => {
    const p = parts(signFilePath("a.png", SECRET, NOW + 60));
    expect(verifyFileSignature("a.png", undefined, p.sig, SECRET, NOW)).toBe("invalid");
    expect(verifyFileSignature("a.png", p.exp, undefined, SECRET, NOW)).toBe("invalid");
    expect(verifyFileSignature("a.png", "", "", SECRET, NOW)).toBe("invalid");
    for (const exp of ["-1", "1e10", "12.5", " 123", "0x10", "abc", "9".repeat(30)]) {
      expect(verifyFileSignature("a.png", exp, p.sig, SECRET, NOW)).toBe("invalid");
    }
    expect(verifyFileSignature("a.png", p.exp, "not base64url!", SECRET, NOW)).toBe("invalid");
    expect(verifyFileSignature("a.png", p.exp, p.sig + "=", SECRET, NOW)).toBe("invalid");
  });
});

describe("verifyFileSignature: the expiry is capped at FILE_URL_TTL_SECONDS", () => {
  it("accepts an expiry up to the TTL (plus clock skew) ahead, like every URL we issue", () => {
    for (const ahead of [1, TTL, TTL + MAX_CLOCK_SKEW_SECONDS]) {
      const p = parts(signFilePath("a.png", SECRET, NOW + ahead));
      expect(verifyWithTtl("a.png", p.exp, p.sig, SECRET, NOW, TTL)).toBe("ok");
    }
  });

  it("refuses a correctly signed URL whose expiry is further ahead, like a tampered one", () => {
    for (const ahead of [TTL + MAX_CLOCK_SKEW_SECONDS + 1, 86_400 * 365, 999_999_999_999]) {
      const p = parts(signFilePath("a.png", SECRET, NOW + ahead));
      expect(verifyWithTtl("a.png", p.exp, p.sig, SECRET, NOW, TTL)).toBe("invalid");
    }
    // A shorter TTL (configuration changed since) caps URLs issued under the longer one.
    const p = parts(signFilePath("a.png", SECRET, NOW + TTL));
    expect(verifyWithTtl("a.png", p.exp, p.sig, SECRET, NOW, 60)).toBe("invalid");
  });
});

describe("parseFilesPath", () => {
  it("decodes segments", () => {
    expect(parseFilesPath("/files/a.png")).toBe("a.png");
    expect(parseFilesPath("/files/gen_1/0.png")).toBe("gen_1/0.png");
    expect(parseFilesPath("/files/x%20y/%C3%A4.png")).toBe("x y/ä.png");
  });

  it("rejects paths outside /files/ and empty keys", () => {
    for (const p of ["/", "/files", "/files/", "/other/a.png", "files/a.png", "/FILES/a.png"]) {
      expect(parseFilesPath(p)).toBeNull();
    }
  });

  it("rejects traversal, empty segments, encoded slashes and bad encoding", () => {
    for (const p of [
      "/files/../secret",
      "/files/a/../../b",
      "/files/%2e%2e/b",
      "/files/./a",
      "/files/a//b",
      "/files/a/",
      "/files/a%2Fb",
      "/files/%E0%A4%A",
    ]) {
      expect(parseFilesPath(p)).toBeNull();
    }
  });
});
