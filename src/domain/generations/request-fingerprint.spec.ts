import { describe, expect, it } from "vitest";
import type { GenerationRequest } from "../../providers/contract";
import type { CreateGenerationCommand } from "./create-generation.command";
import { requestFingerprint } from "./request-fingerprint";

const cmd = (extra: Partial<CreateGenerationCommand> = {}): CreateGenerationCommand => ({ modality: "TEXT", model: "simulated/text", prompt: "hi", ...extra });
const req = (extra: Partial<GenerationRequest> = {}): GenerationRequest => ({ modality: "TEXT", model: "text", prompt: "hi", params: {}, text: {}, ...extra });

describe("requestFingerprint", () => {
  it("is the same for the same request, whatever the key order, nulls for absent fields, wait, key or route", () => {
    const a = requestFingerprint(cmd({ idempotencyKey: "k1", wait: 5 }), req({ params: { a: 1, b: 2 } }));
    const b = requestFingerprint(cmd({ idempotencyKey: "k2", wait: null, seed: null, priority: "NORMAL", cache: "AUTO", callbackUrl: null }), req({ params: { b: 2, a: 1 }, model: "other-provider-model" }));
    expect(b).toBe(a);
    expect(a).toMatch(/^[0-9a-f]{64}$/);
  });

  it("differs when anything that changes the work differs", () => {
    const base = requestFingerprint(cmd(), req());
    const variants = [
      requestFingerprint(cmd(), req({ prompt: "hello" })),
      requestFingerprint(cmd(), req({ system: "be brief" })),
      requestFingerprint(cmd(), req({ seed: 7 })),
      requestFingerprint(cmd(), req({ params: { temperature: 0 } })),
      requestFingerprint(cmd(), req({ params: { x: null } })),
      requestFingerprint(cmd(), req({ text: { maxTokens: 10 } })),
      requestFingerprint(cmd({ model: "auto" }), req()),
      requestFingerprint(cmd({ fallbackModels: ["simulated-b/text"] }), req()),
      requestFingerprint(cmd({ priority: "HIGH" }), req()),
      requestFingerprint(cmd({ maxCostUsd: 0.01 }), req()),
      requestFingerprint(cmd({ cache: "BYPASS" }), req()),
      requestFingerprint(cmd({ deadlineSeconds: 30 }), req()),
      requestFingerprint(cmd({ whenUnavailable: "FAIL" }), req()),
      requestFingerprint(cmd({ callbackUrl: "https://example.com/hook" }), req()),
      requestFingerprint(cmd({ semanticCache: true }), req()),
    ];
    expect(new Set([base, ...variants]).size).toBe(variants.length + 1);
  });
});
