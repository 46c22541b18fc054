import { describe, expect, it } from "vitest";
import { attemptTimeoutMs } from "./upstream-call";

describe("attemptTimeoutMs", () => {
  const cfg = { providerTimeoutMs: 60_000, deltaCoalesceMs: 0, timeouts: { IMAGE: 90_000, openai: 30_000, "openai:IMAGE": 120_000 } };
  it("takes the most specific timeout", () => {
    expect(attemptTimeoutMs(cfg, "openai", { modality: "IMAGE", deadlineAt: null })).toBe(120_000);
    expect(attemptTimeoutMs(cfg, "openai", { modality: "TEXT", deadlineAt: null })).toBe(30_000);
    expect(attemptTimeoutMs(cfg, "groq", { modality: "IMAGE", deadlineAt: null })).toBe(90_000);
    expect(attemptTimeoutMs(cfg, "groq", { modality: "TEXT", deadlineAt: null })).toBe(60_000);
  });
  it("is shortened to what is left of the deadline, at least 1ms", () => {
    expect(attemptTimeoutMs(cfg, "groq", { modality: "TEXT", deadlineAt: new Date(5_000) }, 1_000)).toBe(4_000);
    expect(attemptTimeoutMs(cfg, "groq", { modality: "TEXT", deadlineAt: new Date(5_000) }, 9_000)).toBe(1);
  });
});
