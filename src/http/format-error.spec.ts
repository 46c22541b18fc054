import { describe, expect, it } from "vitest";
import { createFormatError } from "./format-error";

describe("formatError", () => {
  it("turns class-validator errors into one clear BAD_USER_INPUT message", () => {
    const f = createFormatError({ production: true });
    const out = f({
      message: "Argument Validation Error",
      extensions: { code: "BAD_USER_INPUT", validationErrors: [{ property: "input", children: [{ property: "wait", constraints: { max: "wait must not be greater than 600" } }] }] },
    });
    expect(out.message).toBe("Invalid input: input.wait: wait must not be greater than 600");
    expect(out.extensions).toEqual({ code: "BAD_USER_INPUT", field: "input.wait", fields: ["input.wait: wait must not be greater than 600"] });
  });

  it("hides internal error text in production, keeps it in development", () => {
    const err = { message: "relation generations does not exist", extensions: { code: "INTERNAL_SERVER_ERROR", stacktrace: ["x"] } };
    expect(createFormatError({ production: true })(err).message).toBe("Internal server error");
    expect(createFormatError({ production: false })(err).message).toBe("relation generations does not exist");
    expect(createFormatError({ production: false })(err).extensions).toEqual({ code: "INTERNAL_SERVER_ERROR" });
  });

  it("passes known codes through untouched", () => {
    const out = createFormatError({ production: true })({ message: "nope", extensions: { code: "NOT_FOUND", id: "1" } });
    expect(out).toEqual({ message: "nope", extensions: { code: "NOT_FOUND", id: "1" } });
  });
});
