import { describe, expect, it } from "vitest";
import { BadUserInputError, ForbiddenError, QueueFullError, ServiceUnavailableError, UnauthenticatedError } from "../../common/errors";
import { HttpError } from "../http-utils";
import { anthropicErrorBody, fromGeneration, fromThrown, openaiErrorBody, statusFor } from "./errors";

describe("v1 errors", () => {
  it("maps domain codes to statuses, field to param, retryAfterSeconds to Retry-After", () => {
    expect(fromThrown(new BadUserInputError("bad", { field: "messages[0].role" }), true)).toMatchObject({ status: 400, param: "messages[0].role" });
    expect(fromThrown(new UnauthenticatedError(), true).status).toBe(401);
    expect(fromThrown(new ForbiddenError(), true).status).toBe(403);
    expect(fromThrown(new QueueFullError("full", { depth: 3, limit: 3 }), true)).toMatchObject({ status: 429, retryAfterSeconds: 1 });
    expect(fromThrown(new ServiceUnavailableError("down", { retryAfterSeconds: 2.2 }), true)).toMatchObject({ status: 503, retryAfterSeconds: 3 });
    expect(fromThrown(new HttpError(413, "PAYLOAD_TOO_LARGE", "big"), true).status).toBe(413);
    expect(fromThrown(new HttpError(429, "RATE_LIMITED", "slow", {}, { "retry-after": "7" }), true).retryAfterSeconds).toBe(7);
  });

  it("hides an internal error's text in production", () => {
    expect(fromThrown(new Error("secret detail"), true)).toEqual({ status: 500, code: "INTERNAL_SERVER_ERROR", message: "Internal server error" });
    expect(fromThrown(new Error("secret detail"), false).message).toBe("secret detail");
  });

  it("maps a failed generation by its errorCode", () => {
    expect(fromGeneration({ status: "FAILED", errorCode: "DEADLINE_EXCEEDED", errorMessage: "late" }).status).toBe(504);
    expect(fromGeneration({ status: "FAILED", errorCode: "SERVICE_UNAVAILABLE", errorMessage: "open" }).status).toBe(503);
    expect(fromGeneration({ status: "FAILED", errorCode: "BAD_RESPONSE", errorMessage: "cut" }).status).toBe(502);
    expect(fromGeneration({ status: "CANCELLED", errorCode: null, errorMessage: null }).status).toBe(409);
  });

  it("writes OpenAI's and Anthropic's shapes; an exhausted budget is 429 insufficient_quota / 402 billing_error", () => {
    const quota = { status: 429, code: "QUOTA_EXCEEDED", message: "no budget" };
    expect(openaiErrorBody(quota)).toEqual({ error: { message: "no budget", type: "insufficient_quota", param: null, code: "insufficient_quota" } });
    expect(statusFor("openai", quota)).toBe(429);
    expect(anthropicErrorBody(quota)).toEqual({ type: "error", error: { type: "billing_error", message: "no budget" } });
    expect(statusFor("anthropic", quota)).toBe(402);
    const input = { status: 400, code: "BAD_USER_INPUT", message: "bad", param: "n" };
    expect(openaiErrorBody(input).error).toMatchObject({ type: "invalid_request_error", param: "n", code: "bad_user_input" });
    expect(anthropicErrorBody({ status: 503, code: "SERVICE_UNAVAILABLE", message: "x" }).error.type).toBe("overloaded_error");
  });
});
