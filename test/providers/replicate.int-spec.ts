/**
 * Replicate specifics beyond the contract suite: webhook signatures (standard-webhooks),
 * cancelling a prediction, the SDK's own 429 retries kept out, the webhook body finished
 * through resultFromPrediction, version refs, progress from logs and video outputs.
 */
import { createHmac, randomBytes } from "node:crypto";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { isPending, ProviderError, type GenerationProvider, type GenerationRequest, type PendingTask, type ProviderCall } from "../../src/providers/contract";
import { resultFromPrediction } from "../../src/providers/replicate/prediction";
import { ReplicateProvider } from "../../src/providers/replicate/replicate.provider";
import { verifyReplicateWebhook } from "../../src/providers/replicate/webhook";
import { FAKE_MP4 } from "../fakes/minimax.fake";
import { startReplicateFake, type ReplicateFake } from "../fakes/replicate.fake";

const KEY = "r8_specKey0000000001";

function call(progress: number[] = []): ProviderCall {
  return { apiKey: KEY, signal: AbortSignal.timeout(5_000), timeoutMs: 5_000, attempt: 1, onDelta: () => undefined, onProgress: (p) => progress.push(p) };
}

const imageReq = (over: Partial<GenerationRequest> = {}): GenerationRequest => ({
  modality: "IMAGE",
  model: "black-forest-labs/flux-schnell",
  prompt: "a red fox in snow",
  image: { width: 40, height: 30, count: 1 },
  params: {},
  ...over,
});

function provider(baseUrl: string, webhookUrl?: string): GenerationProvider {
  return new ReplicateProvider({ id: "replicate", displayName: "Replicate", baseUrl, requiresKey: true, models: [], pollMinMs: 10, pollMaxMs: 40, webhookUrl });
}

describe("verifyReplicateWebhook", () => {
  const secretBytes = randomBytes(24);
  const secret = `whsec_${secretBytes.toString("base64")}`;
  const body = JSON.stringify({ id: "ufawqhfynnddngldkgtslldrkq", status: "succeeded", output: ["https://replicate.delivery/x/out-0.png"] });
  const sign = (id: string, ts: string, raw: string) => `v1,${createHmac("sha256", secretBytes).update(`${id}.${ts}.${raw}`).digest("base64")}`;
  const now = Date.now();
  const ts = String(Math.floor(now / 1000));
  const headers = (over: Record<string, string> = {}) => ({
    "webhook-id": "msg_2Lh9KRb0pzN4LePd3XiA4bBkGmY",
    "webhook-timestamp": ts,
    "webhook-signature": sign("msg_2Lh9KRb0pzN4LePd3XiA4bBkGmY", ts, body),
    ...over,
  });

  it("accepts a correctly signed body (also among several signatures, from a Headers object or a Buffer)", async () => {
    expect(await verifyReplicateWebhook(headers(), body, secret, now)).toBe(true);
    const several = `v1,${Buffer.alloc(32).toString("base64")} ${headers()["webhook-signature"]}`;
    expect(await verifyReplicateWebhook(headers({ "webhook-signature": several }), body, secret, now)).toBe(true);
    expect(await verifyReplicateWebhook(new Headers(headers()), Buffer.from(body), secret, now)).toBe(true);
  });

  it("rejects a tampered body, a wrong secret and missing headers", async () => {
    expect(await verifyReplicateWebhook(headers(), body.replace("succeeded", "failed"), secret, now)).toBe(false);
    expect(await verifyReplicateWebhook(headers(), body, `whsec_${randomBytes(24).toString("base64")}`, now)).toBe(false);
    const { "webhook-signature": _drop, ...unsigned } = headers();
    expect(await verifyReplicateWebhook(unsigned, body, secret, now)).toBe(false);
    expect(await verifyReplicateWebhook(headers(), body, "", now)).toBe(false);
  });

  it("rejects a stale (or far-future) timestamp even when correctly signed", async () => {
    const old = String(Math.floor(now / 1000) - 6 * 60);
    expect(await verifyReplicateWebhook(headers({ "webhook-timestamp": old, "webhook-signature": sign("msg_2Lh9KRb0pzN4LePd3XiA4bBkGmY", old, body) }), body, secret, now)).toBe(false);
    const future = String(Math.floor(now / 1000) + 6 * 60);
    expect(await verifyReplicateWebhook(headers({ "webhook-timestamp": future, "webhook-signature": sign("msg_2Lh9KRb0pzN4LePd3XiA4bBkGmY", future, body) }), body, secret, now)).toBe(false);
    const recent = String(Math.floor(now / 1000) - 4 * 60);
    expect(await verifyReplicateWebhook(headers({ "webhook-timestamp": recent, "webhook-signature": sign("msg_2Lh9KRb0pzN4LePd3XiA4bBkGmY", recent, body) }), body, secret, now)).toBe(true);
  });
});

describe("replicate adapter", () => {
  let server: ReplicateFake;
  beforeAll(async () => {
    server = await startReplicateFake();
  });
  afterAll(() => server.close());
  beforeEach(() => {
    server.scenario = "ok";
    server.requests.length = 0;
  });

  it("cancelTask posts to the prediction's cancel route; the next poll reports it cancelled", async () => {
    const p = provider(server.url);
    const task = (await p.generate(imageReq(), call())) as PendingTask;
    expect(isPending(task)).toBe(true);
    await p.cancelTask!(task, { apiKey: KEY, signal: AbortSignal.timeout(3_000) });
    const cancel = server.requests.find((r) => r.method === "POST" && r.path === `/v1/predictions/${task.taskId}/cancel`);
    expect(cancel, "the cancel route was called").toBeDefined();
    expect(cancel!.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(server.predictions.get(task.taskId)!.status).toBe("canceled");
    const e = await p.poll!(task, imageReq(), call()).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ProviderError);
    expect((e as ProviderError).kind).toBe("cancelled");
  });

  it("a 429 is one request, not the SDK's six, and keeps Retry-After", async () => {
    server.scenario = "429";
    const e = await provider(server.url).generate(imageReq(), call()).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ProviderError);
    expect((e as ProviderError).kind).toBe("rate_limited");
    expect((e as ProviderError).retryAfterSeconds).toBe(server.retryAfterSeconds);
    expect((e as ProviderError).message).toContain("rate limit exceeded");
    expect(server.requests).toHaveLength(1);
  });

  it("a 503 on a poll (GET, which the SDK would retry too) is one request", async () => {
    const p = provider(server.url);
    const task = (await p.generate(imageReq(), call())) as PendingTask;
    server.scenario = "503";
    server.requests.length = 0;
    const e = await p.poll!(task, imageReq(), call()).catch((x: unknown) => x);
    expect((e as ProviderError).kind).toBe("unavailable");
    expect(server.requests).toHaveLength(1);
  });

  it("sends the model input, the webhook with the completed filter, and reports progress from the logs", async () => {
    const p = provider(server.url, "https://switchboard.example/webhooks/replicate");
    const progress: number[] = [];
    const req = imageReq({ seed: 7, params: { input: { aspect_ratio: "4:3", output_format: "png" } } });
    let out = await p.generate(req, call(progress));
    const create = server.requests[0];
    expect(create.method).toBe("POST");
    expect(create.path).toBe("/v1/models/black-forest-labs/flux-schnell/predictions");
    expect(create.body).toMatchObject({
      input: { prompt: "a red fox in snow", width: 40, height: 30, num_outputs: 1, seed: 7, aspect_ratio: "4:3", output_format: "png" },
      webhook: "https://switchboard.example/webhooks/replicate",
      webhook_events_filter: ["completed"],
    });
    const delays: number[] = [];
    while (isPending(out)) {
      delays.push(out.checkAfterMs);
      out = await p.poll!(out, req, call(progress));
    }
    expect(delays.length).toBeGreaterThanOrEqual(2);
    expect(delays[1]).toBeGreaterThan(delays[0]);
    expect(progress).toContain(0.5); // "50%|█████     | 2/4" in the processing logs
    expect(progress.at(-1)).toBe(1);
    expect(out.media![0]).toMatchObject({ mimeType: "image/png", width: 40, height: 30 });
  });

  it("a model:version ref creates through POST /v1/predictions with the version", async () => {
    await provider(server.url).generate(imageReq({ model: "stability-ai/sdxl:39ed52f2a78e934b3ba6e2a89f5b1c712de7dfea535525255b1aa35c5565e08b" }), call());
    expect(server.requests[0].path).toBe("/v1/predictions");
    expect(server.requests[0].body).toMatchObject({ version: "39ed52f2a78e934b3ba6e2a89f5b1c712de7dfea535525255b1aa35c5565e08b" });
  });

  it("resultFromPrediction finishes a generation from a webhook body", async () => {
    const p = provider(server.url);
    const req = imageReq({ image: { width: 20, height: 10, count: 3 } });
    const task = (await p.generate(req, call())) as PendingTask;
    // Let the fake run the prediction to its end, as Replicate would before calling the webhook.
    await p.poll!(task, req, call());
    await p.poll!(task, req, call()).catch(() => undefined);
    const webhookBody = JSON.parse(JSON.stringify(server.predictions.get(task.taskId)));
    expect(webhookBody.status).toBe("succeeded");
    const r = await resultFromPrediction(webhookBody, req, { signal: AbortSignal.timeout(3_000) });
    expect(r.media).toHaveLength(3);
    expect(r.media![0]).toMatchObject({ mimeType: "image/png", width: 20, height: 10 });
    expect(r.usage.images).toBe(3);

    const failed = { ...webhookBody, status: "failed", output: null, error: "NSFW content detected. Try running it again, or try a different prompt." };
    const e = await resultFromPrediction(failed, req, { signal: AbortSignal.timeout(3_000) }).catch((x: unknown) => x);
    expect((e as ProviderError).kind).toBe("content_policy");
    const crashed = { ...failed, error: "CUDA out of memory" };
    const e2 = await resultFromPrediction(crashed, req, { signal: AbortSignal.timeout(3_000) }).catch((x: unknown) => x);
    expect((e2 as ProviderError).kind).toBe("bad_response");
    expect((e2 as ProviderError).retryable).toBe(true);
  });

  it("video models: the output file is a video/mp4 with the requested duration", async () => {
    const p = provider(server.url);
    const req: GenerationRequest = { modality: "VIDEO", model: "minimax/video-01", prompt: "waves at night", video: { durationSeconds: 6 }, params: {} };
    let out = await p.generate(req, call());
    for (let i = 0; i < 5 && isPending(out); i++) out = await p.poll!(out, req, call());
    if (isPending(out)) throw new Error("still pending");
    expect(out.media).toHaveLength(1);
    expect(out.media![0].mimeType).toBe("video/mp4");
    expect(out.media![0].durationSeconds).toBe(6);
    expect(out.media![0].data.equals(FAKE_MP4)).toBe(true);
    expect(out.usage.seconds).toBe(6);
  });

  it("refuses to call without a key (the SDK would fall back to REPLICATE_API_TOKEN)", async () => {
    const e = await provider(server.url).generate(imageReq(), { ...call(), apiKey: undefined }).catch((x: unknown) => x);
    expect((e as ProviderError).kind).toBe("auth");
    expect(server.requests).toHaveLength(0);
  });
});
