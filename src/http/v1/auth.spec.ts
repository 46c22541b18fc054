import type { IncomingMessage } from "node:http";
import { describe, expect, it } from "vitest";
import { presentedKey } from "./auth";

const req = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;

describe("the key a /v1 request presents", () => {
  it("is Authorization first, else Anthropic's x-api-key, else none", () => {
    expect(presentedKey(req({ authorization: "Bearer sb_a", "x-api-key": "sb_b" }))).toBe("Bearer sb_a");
    expect(presentedKey(req({ "x-api-key": " sb_b " }))).toBe("Bearer sb_b");
    expect(presentedKey(req({}))).toBeUndefined();
    expect(presentedKey(req({ authorization: "  ", "x-api-key": "" }))).toBeUndefined();
  });
});
