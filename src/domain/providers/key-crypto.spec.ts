import { describe, expect, it } from "vitest";
import { KeyCrypto } from "./key-crypto";

describe("KeyCrypto", () => {
  const master = "m".repeat(40);
  it("round-trips and never stores the plain key", () => {
    const c = new KeyCrypto(master);
    const enc = c.encrypt("sk-live-abcdef1234567890");
    expect(enc).not.toContain("abcdef");
    expect(c.decrypt(enc)).toBe("sk-live-abcdef1234567890");
    expect(c.encrypt("x")).not.toBe(c.encrypt("x")); // fresh IV each time
  });
  it("fails with another master key or a tampered value", () => {
    const enc = new KeyCrypto(master).encrypt("sk-secret");
    expect(() => new KeyCrypto("n".repeat(40)).decrypt(enc)).toThrow();
    const parts = enc.split(".");
    parts[3] = Buffer.from("sk-other").toString("base64url");
    expect(() => new KeyCrypto(master).decrypt(parts.join("."))).toThrow();
  });
});
