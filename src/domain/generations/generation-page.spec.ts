import { describe, expect, it } from "vitest";
import { decodeCursor, encodeCursor } from "./generation-page";

describe("cursor", () => {
  it("round-trips", () => {
    const g = { createdAt: new Date("2026-01-02T03:04:05.678Z"), id: "0b7e1b9e-7f7c-4c61-9b1e-8f0f1e2d3c4b" };
    expect(decodeCursor(encodeCursor(g))).toEqual(g);
  });
  it.each(["garbage", "", Buffer.from("[1,2]").toString("base64url"), Buffer.from('["x","y"]').toString("base64url")])("rejects %j with BAD_USER_INPUT", (c) => {
    expect(() => decodeCursor(c)).toThrow(expect.objectContaining({ extensions: expect.objectContaining({ code: "BAD_USER_INPUT" }) }));
  });
});
