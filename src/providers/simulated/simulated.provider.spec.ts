import { PNG } from "pngjs";
import { describe, expect, it } from "vitest";
import type { GenerationRequest, ProviderCall } from "../contract";
import { SimulatedProvider } from "./simulated.provider";

const provider = new SimulatedProvider();

function testCall(over: Partial<ProviderCall> = {}): ProviderCall & { deltas: string[]; progress: number[] } {
  const deltas: string[] = [];
  const progress: number[] = [];
  return {
    signal: new AbortController().signal,
    timeoutMs: 5_000,
    attempt: 1,
    onDelta: (d) => deltas.push(d),
    onProgress: (p) => progress.push(p),
    deltas,
    progress,
    ...over,
  };
}

const textReq = (over: Partial<GenerationRequest> = {}): GenerationRequest => ({
  modality: "TEXT",
  model: "text",
  prompt: "Write a haiku about message queues",
  params: {},
  ...over,
});

describe("SimulatedProvider", () => {
  it("is plainly marked simulated, with one priced model per modality", () => {
    expect(provider.id).toBe("simulated");
    expect(provider.simulated).toBe(true);
    expect(provider.displayName).toMatch(/simulated/i);
    expect(provider.models.map((m) => m.id)).toEqual([
      "simulated/text",
      "simulated/image",
      "simulated/video",
      "simulated/audio",
      "simulated/embedding",
    ]);
    for (const m of provider.models) expect(Object.values(m.pricing).every(Number.isInteger)).toBe(true);
  });

  it("streams text deltas that add up to a deterministic answer", async () => {
    const call = testCall();
    const res = await provider.generate(textReq({ seed: 7 }), call);
    expect(call.deltas.length).toBeGreaterThan(1);
    expect(call.deltas.join("")).toBe(res.text);
    expect(res.finishReason).toBe("stop");
    expect(res.usage.inputTokens).toBeGreaterThan(0);
    expect(res.usage.outputTokens).toBeGreaterThan(0);
    expect((await provider.generate(textReq({ seed: 7 }), testCall())).text).toBe(res.text);
    expect((await provider.generate(textReq({ seed: 8 }), testCall())).text).not.toBe(res.text);
  });

  it("groups deltas into the requested number of steps", async () => {
    const call = testCall();
    const res = await provider.generate(textReq({ params: { simulate: { steps: 3 } } }), call);
    expect(call.deltas).toHaveLength(3);
    expect(call.deltas.join("")).toBe(res.text);
  });

  it("renders count PNGs at the requested size with progress", async () => {
    const call = testCall();
    const image = { width: 64, height: 48, count: 2 };
    const req: GenerationRequest = { modality: "IMAGE", model: "image", prompt: "a cat", params: {}, image };
    const res = await provider.generate(req, call);
    expect(call.progress).toEqual([0.2, 0.4, 0.6, 0.8, 1]);
    expect(res.usage.images).toBe(2);
    expect(res.media).toHaveLength(2);
    for (const m of res.media ?? []) {
      expect(m.mimeType).toBe("image/png");
      const png = PNG.sync.read(m.data);
      expect([png.width, png.height]).toEqual([64, 48]);
    }
    expect(res.media?.[0].data.equals(res.media[1].data)).toBe(false);
    const again = await provider.generate(req, testCall());
    expect(again.media?.[0].data.equals(res.media?.[0].data ?? Buffer.alloc(0))).toBe(true);
  });

  it("renders a GIF stand-in for video and a WAV for audio", async () => {
    const videoReq: GenerationRequest = { modality: "VIDEO", model: "video", prompt: "waves", params: {} };
    const video = await provider.generate({ ...videoReq, video: { durationSeconds: 3 } }, testCall());
    expect(video.media?.[0].mimeType).toBe("image/gif");
    expect(video.media?.[0].data.toString("ascii", 0, 6)).toBe("GIF89a");
    expect(video.usage.seconds).toBe(3);

    const audioReq: GenerationRequest = { modality: "AUDIO", model: "audio", prompt: "one two three four five", params: {} };
    const audio = await provider.generate(audioReq, testCall());
    const wav = audio.media?.[0];
    expect(wav?.mimeType).toBe("audio/wav");
    expect(wav?.durationSeconds).toBe(2);
    expect(audio.usage.seconds).toBe(2);
    expect(wav?.data.readUInt32LE(40)).toBe(2 * 16000 * 2);
  });

  it("embeds the prompt deterministically", async () => {
    const req: GenerationRequest = { modality: "EMBEDDING", model: "embedding", prompt: "hello world", params: {} };
    const res = await provider.generate(req, testCall());
    expect(res.embedding).toHaveLength(256);
    expect(Math.hypot(...(res.embedding ?? []))).toBeCloseTo(1, 10);
    expect(res.usage.inputTokens).toBeGreaterThan(0);
  });

  it("rejects unknown models, mismatched modalities and bad simulate options as invalid_request", async () => {
    const cases = [
      textReq({ model: "gpt-9" }),
      textReq({ model: "image" }),
      textReq({ params: { simulate: { failRate: 3, failWith: "timeout" } } }),
      textReq({ text: { maxTokens: 0 } }),
    ];
    for (const req of cases) {
      const err = await provider.generate(req, testCall()).catch((e: unknown) => e);
      expect(err).toMatchObject({ kind: "invalid_request", retryable: false });
    }
  });

  it("spreads latencyMs over the steps", async () => {
    const started = Date.now();
    const call = testCall();
    await provider.generate(textReq({ params: { simulate: { latencyMs: 120, steps: 4 } } }), call);
    expect(Date.now() - started).toBeGreaterThanOrEqual(100);
    expect(call.deltas).toHaveLength(4);
  });

  it("rejects promptly with cancelled when the signal aborts mid-run", async () => {
    const ac = new AbortController();
    const call = testCall({ signal: ac.signal });
    const started = Date.now();
    setTimeout(() => ac.abort(), 30);
    const slow = textReq({ params: { simulate: { latencyMs: 5_000 } } });
    await expect(provider.generate(slow, call)).rejects.toMatchObject({ kind: "cancelled" });
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it("rejects at once when the signal is already aborted", async () => {
    const ac = new AbortController();
    ac.abort();
    const call = testCall({ signal: ac.signal });
    await expect(provider.generate(textReq(), call)).rejects.toMatchObject({ kind: "cancelled" });
    expect(call.deltas).toEqual([]);
  });
});
