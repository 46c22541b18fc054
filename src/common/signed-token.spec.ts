import { describe, expect, it } from "vitest";
import { signToken, verifyToken } from "./signed-token";

describe("signed tokens", () => {
  const now = 1_700_000_000_000;
  const t = signToken("secret", "bull-board", { sub: "u1", exp: now + 60_000 });

  it("round-trips before expiry", () => expect(verifyToken("secret", "bull-board", t, now)).toEqual({ sub: "u1", exp: now + 60_000 }));
  it("refuses an expired token", () => expect(verifyToken("secret", "bull-board", t, now + 60_000)).toBeNull());
  it("refuses another purpose or secret", () => {
    expect(verifyToken("secret", "files", t, now)).toBeNull();
    expect(verifyToken("other", "bull-board", t, now)).toBeNull();
  });
  it("refuses a tampered payload or signature, and garbage", () => {
    const [body, sig] = t.split(".");
    const forged = Buffer.from(JSON.stringify({ sub: "admin", exp: now + 60_000 })).toString("base64url");
    expect(verifyToken("secret", "bull-board", `${forged}.${sig}`, now)).toBeNull();
    expect(verifyToken("secret", "bull-board", `${body}.${sig.slice(0, -1)}A`, now)).toBeNull();
    for (const g of ["", ".", "abc", "a.b.c", "x".repeat(5000)]) expect(verifyToken("secret", "bull-board", g, now)).toBeNull();
  });
});
