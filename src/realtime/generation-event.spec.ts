import { describe, expect, it } from "vitest";
import { GenerationEntity } from "../db/entities/generation.entity";
import { fromEventView, toEventView } from "./generation-event";

const at = new Date("2026-01-02T03:04:05.000Z");

function entity(over: Partial<GenerationEntity> = {}): GenerationEntity {
  return Object.assign(new GenerationEntity(), {
    id: "g1", userId: "u1", apiKeyId: "k1", status: "SUCCEEDED", modality: "TEXT", model: "auto", provider: "openai", providerModel: "gpt-x",
    prompt: "hi", messages: [{ role: "user", content: [{ type: "text", text: "secret history" }] }], system: "sys",
    textOptions: { temperature: 0, maxTokens: 9, responseFormat: "JSON" }, imageOptions: null, videoOptions: null, audioOptions: null,
    params: { a: 1 }, priority: "NORMAL", seed: 7, progress: 1,
    output: { text: "{}", usage: { inputTokens: 1, outputTokens: 2 }, files: [{ key: "blob/1", mimeType: "image/png", sizeBytes: 3 }], finishReason: "stop", toolCalls: [{}] },
    errorCode: null, errorMessage: null, cached: false, estimatedCostMicros: 100, costMicros: 50,
    idempotencyKey: "idem", requestHash: "hash", reservedMicros: 999, quotaPeriodStart: at, maxCostMicros: 5000, cachePolicy: "AUTO",
    cacheKey: "scope:abc", cacheHit: null, semanticScope: "scope", groupId: null, deadlineAt: at,
    candidates: [{ model: "openai/gpt-x", provider: "openai", providerModel: "gpt-x" }], candidateIndex: 0,
    upstreamTask: { taskId: "t", provider: "openai", providerModel: "gpt-x", keyLabel: "prod-key-3", attemptNo: 1, startedAt: at.toISOString() },
    whenUnavailable: "WAIT", callbackUrl: "https://hooks.example/cb", runAttempt: 2, seqReserved: 2001, source: "OPENAI", requestId: "req-1",
    moderation: null, onFlagged: "FAIL",
    createdAt: at, updatedAt: at, startedAt: at, completedAt: null,
  } satisfies GenerationEntity, over);
}

describe("generation event view", () => {
  it("carries nothing a subscriber may not see: no reservation, callback URL, cache key, key label, messages or run counters", () => {
    const json = JSON.stringify(toEventView(entity()));
    for (const hidden of ["reservedMicros", "callbackUrl", "hooks.example", "cacheKey", "scope:abc", "semanticScope", "upstreamTask", "prod-key-3",
      "keyLabel", "messages", "secret history", "idempotencyKey", "requestHash", "apiKeyId", "runAttempt", "seqReserved", "maxCostMicros",
      "providerModel", "temperature", "deadlineAt", "updatedAt"])
      expect(json, hidden).not.toContain(hidden);
  });

  it("keeps every field GraphQL reads, and dates round-trip", () => {
    const v = fromEventView(JSON.parse(JSON.stringify(toEventView(entity()))));
    expect(v).toEqual({
      id: "g1", userId: "u1", status: "SUCCEEDED", modality: "TEXT", model: "auto", provider: "openai", prompt: "hi", system: "sys",
      priority: "NORMAL", seed: 7, progress: 1, cached: false, cacheHit: null, params: { a: 1 }, estimatedCostMicros: 100, costMicros: 50,
      errorCode: null, errorMessage: null, source: "OPENAI", requestId: "req-1", moderation: null,
      // Whole (the /v1 answers read the finish reason and tool calls from it), and marked so.
      output: { text: "{}", usage: { inputTokens: 1, outputTokens: 2 }, files: [{ key: "blob/1", mimeType: "image/png", sizeBytes: 3 }], finishReason: "stop", toolCalls: [{}], whole: true },
      candidates: [{ model: "openai/gpt-x" }], textOptions: { responseFormat: "JSON" },
      createdAt: at, startedAt: at, completedAt: null,
    });
  });

  it("keeps null as null and an output without text or files as an object", () => {
    const v = fromEventView(JSON.parse(JSON.stringify(toEventView(entity({ output: { finishReason: "tool_calls" }, candidates: null, textOptions: null })))));
    expect(v.output).toEqual({ finishReason: "tool_calls", whole: true });
    expect(v.candidates).toBeNull();
    expect(v.textOptions).toBeNull();
    expect(fromEventView(toEventView(entity({ output: null }))).output).toBeNull();
  });

  it("marks the output whole only when it is: a row's, or a whole view's, never an older process's view passed on", () => {
    const whole = fromEventView(JSON.parse(JSON.stringify(toEventView(entity()))));
    expect(toEventView(whole).output?.whole).toBe(true);
    const older = { ...whole, output: { text: "{}" } }; // a view published before finish reasons travelled
    expect(toEventView(older).output).not.toHaveProperty("whole");
  });
});
