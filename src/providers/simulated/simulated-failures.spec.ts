import { describe, expect, it } from "vitest";
import { ProviderError, type GenerationRequest, type ProviderCall } from "../contract";
import { SimulatedProvider } from "./simulated.provider";

function testCall(over: Partial<ProviderCall> = {}): ProviderCall & { deltas: string[] } {
  const deltas: string[] = [];
  const base = { signal: new AbortController().signal, timeoutMs: 5_000, attempt: 1, onProgress: () => undefined };
  return { ...base, onDelta: (d) => deltas.push(d), deltas, ...over };
}

const provider = new SimulatedProvider();
const req = (simulate: Record<string, unknown>, prompt = "tell me about retries"): GenerationRequest => ({
  modality: "TEXT",
  model: "text",
  prompt,
  params: { simulate },
});

async function failure(simulate: Record<string, unknown>, timeoutMs = 5_000): Promise<ProviderError> {
  const err = await provider.generate(req(simulate), testCall({ timeoutMs })).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ProviderError);
  return err as ProviderError;
}

describe("SimulatedProvider failure injection", () => {
  it("rate_limited → 429 with retryAfterSeconds (default 1)", async () => {
    expect(await failure({ failWith: "rate_limited" })).toMatchObject({
      kind: "rate_limited",
      status: 429,
      retryAfterSeconds: 1,
      retryable: true,
    });
    expect(await failure({ failWith: "rate_limited", retryAfterSeconds: 9 })).toMatchObject({ retryAfterSeconds: 9 });
  });

  it("unavailable → 503, overloaded → 529 (kind unavailable), bad_response → 200", async () => {
    const unavailable = await failure({ failWith: "unavailable" });
    expect(unavailable).toMatchObject({ kind: "unavailable", status: 503, provider: "simulated" });
    expect(await failure({ failWith: "overloaded" })).toMatchObject({ kind: "unavailable", status: 529 });
    const bad = await failure({ failWith: "bad_response" });
    expect(bad).toMatchObject({ kind: "bad_response", status: 200, partial: false });
  });

  it("timeout waits for call.timeoutMs, then throws kind timeout", async () => {
    const started = Date.now();
    expect(await failure({ failWith: "timeout" }, 60)).toMatchObject({ kind: "timeout", retryable: true });
    expect(Date.now() - started).toBeGreaterThanOrEqual(50);
  });

  it("timeout rejects promptly as cancelled when the signal aborts first", async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 20);
    const call = testCall({ signal: ac.signal, timeoutMs: 10_000 });
    await expect(provider.generate(req({ failWith: "timeout" }), call)).rejects.toMatchObject({ kind: "cancelled" });
  });

  it("cut_stream emits some deltas, then bad_response with partial: true", async () => {
    const call = testCall();
    const err = await provider.generate(req({ failWith: "cut_stream" }), call).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: "bad_response", partial: true, message: "simulated stream cut mid-answer" });
    const full = (await provider.generate(req({}), testCall())).text ?? "";
    expect(call.deltas.length).toBeGreaterThan(0);
    expect(full.startsWith(call.deltas.join(""))).toBe(true);
    expect(call.deltas.join("").length).toBeLessThan(full.length);
  });

  it("failRate 0.5 fails about half across requests, deterministically per attempt", async () => {
    let failed = 0;
    for (let i = 0; i < 400; i++) {
      const r = req({ failWith: "unavailable", failRate: 0.5 }, `prompt ${i}`);
      const first = await provider.generate(r, testCall()).then(() => false, () => true);
      const again = await provider.generate(r, testCall()).then(() => false, () => true);
      expect(again).toBe(first);
      if (first) failed++;
    }
    expect(failed).toBeGreaterThan(140);
    expect(failed).toBeLessThan(260);
  });

  it("a later attempt of the same request can succeed", async () => {
    const r = req({ failWith: "unavailable", failRate: 0.5 });
    const outcomes = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        provider.generate(r, testCall({ attempt: i + 1 })).then(
          () => "ok",
          () => "fail",
        ),
      ),
    );
    expect(outcomes).toContain("ok");
    expect(outcomes).toContain("fail");
  });

  it("cut_stream on media reports some progress, then bad_response without partial text", async () => {
    const progress: number[] = [];
    const simulate = { failWith: "cut_stream" };
    const image: GenerationRequest = { modality: "IMAGE", model: "image", prompt: "x", params: { simulate } };
    const call = testCall({ onProgress: (p) => progress.push(p) });
    await expect(provider.generate(image, call)).rejects.toMatchObject({ kind: "bad_response", partial: false });
    expect(progress).toEqual([0.2, 0.4]);
  });

  it("an abort whose reason is a TimeoutError surfaces as kind timeout", async () => {
    const call = testCall({ signal: AbortSignal.timeout(20) });
    await expect(provider.generate(req({ latencyMs: 5_000 }), call)).rejects.toMatchObject({ kind: "timeout" });
  });
});
