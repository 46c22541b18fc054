import { APIConnectionError, APIConnectionTimeoutError, APIError } from "openai";
import { describe, expect, it } from "vitest";
import { ProviderError } from "../contract";
import { fromStainlessError, type SdkApiError } from "./stainless-errors";

const SDK = { APIError, APIConnectionError, APIConnectionTimeoutError };
const byCode = (e: SdkApiError) => {
  const code = (e.error as { code?: unknown }).code;
  return { status: typeof code === "number" ? code : undefined, message: "from the stream" };
};
const open = () => new AbortController().signal;

describe("fromStainlessError", () => {
  it("the SDK's own timeout is kind timeout (partial kept)", () => {
    const e = fromStainlessError("openai", SDK, byCode, new APIConnectionTimeoutError(), open(), true);
    expect(e).toMatchObject({ kind: "timeout", partial: true, message: "openai did not answer within the timeout" });
  });

  it("an error event inside a stream takes the status the vendor's reader names", () => {
    const e = fromStainlessError("openai", SDK, byCode, new APIError(undefined, { code: 429 }, "x", undefined), open(), true);
    expect(e).toMatchObject({ kind: "rate_limited", status: 429, partial: true });
    const unknown = fromStainlessError("openai", SDK, byCode, new APIError(undefined, { code: "odd" }, "x", undefined), open());
    expect(unknown).toMatchObject({ kind: "unavailable", message: "openai reported an error mid-stream: from the stream" });
  });

  it("an HTTP error goes through the shared status mapping; an abort we asked for is cancelled", () => {
    const e = fromStainlessError("openai", SDK, byCode, new APIError(503, { error: { message: "busy" } }, "503 busy", new Headers({ "retry-after": "7" })), open());
    expect(e).toMatchObject({ kind: "unavailable", status: 503, retryAfterSeconds: 7 });
    const ac = new AbortController();
    ac.abort();
    expect(fromStainlessError("openai", SDK, byCode, new APIConnectionTimeoutError(), ac.signal)).toMatchObject({ kind: "cancelled" });
  });

  it("a ProviderError passes through as it is", () => {
    const pe = new ProviderError({ provider: "openai", kind: "auth", message: "no" });
    expect(fromStainlessError("openai", SDK, byCode, pe, open())).toBe(pe);
  });
});
