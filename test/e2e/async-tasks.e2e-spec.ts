/**
 * Async upstream tasks end to end (MiniMax video, Replicate predictions): the worker creates
 * the task, hands its slot back while the task runs (a delayed BullMQ job re-checks it),
 * reports progress, stores the output; failures, cancellation (stopping the upstream task)
 * and Replicate's signed completion webhook.
 */
import { createHmac, randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FAKE_MP4, startMiniMaxFake, type MiniMaxFake } from "../fakes/minimax.fake";
import { startReplicateFake, type ReplicateFake } from "../fakes/replicate.fake";
import { collect, startTestApp, type TestApp } from "../helpers/test-app";

const GEN_FIELDS = `id status progress completedAt provider { id } error { code message }
  output { mimeType url sizeBytes files { mimeType url sizeBytes width height durationSeconds } }
  attempts { attemptNo provider model status errorKind keyLabel costUsd }`;
const CREATE = `mutation($input: CreateGenerationInput!) { createGeneration(input: $input) { ${GEN_FIELDS} } }`;
const GET = `query($id: ID!) { generation(id: $id) { ${GEN_FIELDS} } }`;
const CANCEL = `mutation($id: ID!) { cancelGeneration(id: $id) { id status error { code } } }`;
const SUB = `subscription($id: ID!) { generationUpdated(id: $id) { seq type message progress generation { status } } }`;

interface Gen {
  id: string;
  status: string;
  progress: number;
  completedAt: string | null;
  provider: { id: string } | null;
  error: { code: string; message: string } | null;
  output: {
    mimeType: string | null;
    url: string | null;
    sizeBytes: number | null;
    files: { mimeType: string; url: string; sizeBytes: number; width: number | null; height: number | null; durationSeconds: number | null }[];
  } | null;
  attempts: { attemptNo: number; provider: string; model: string; status: string; errorKind: string | null; keyLabel: string | null; costUsd: number }[];
}

const TERMINAL = ["SUCCEEDED", "FAILED", "CANCELLED"];
const MINIMAX_KEY = "mm-test-key-0001";
const REPLICATE_KEY = "r8_testkey_abcdefgh0001";

const video = (prompt: string, extra: Record<string, unknown> = {}) =>
  ({ modality: "VIDEO", model: "minimax/MiniMax-Hailuo-02", prompt, video: { durationSeconds: 6 }, cache: "BYPASS", ...extra });
const image = (prompt: string, extra: Record<string, unknown> = {}) =>
  ({ modality: "IMAGE", model: "replicate/black-forest-labs/flux-schnell", prompt, image: { width: 48, height: 32, count: 1 }, cache: "BYPASS", ...extra });

async function create(t: TestApp, input: Record<string, unknown>): Promise<Gen> {
  const res = await t.gql<{ createGeneration: Gen }>(t.adminKey, CREATE, { input });
  expect(res.errors).toBeUndefined();
  return res.data!.createGeneration;
}

async function get(t: TestApp, id: string): Promise<Gen> {
  const res = await t.gql<{ generation: Gen }>(t.adminKey, GET, { id });
  expect(res.errors).toBeUndefined();
  return res.data!.generation;
}

async function until<T>(what: string, probe: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 10_000, everyMs = 25): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`${what}: still ${JSON.stringify(v).slice(0, 1500)} after ${timeoutMs}ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

const terminal = (t: TestApp, id: string, timeoutMs = 15_000) => until(`generation ${id}`, () => get(t, id), (g) => TERMINAL.includes(g.status), timeoutMs);

/** Waits until the generation's upstream task is stored and its re-check job sits in delayed (no worker slot held). */
async function pendingTask(t: TestApp, id: string): Promise<{ taskId: string; provider: string; keyLabel?: string }> {
  await until(`job of ${id} delayed`, () => t.app.queue.state(id), (s) => s === "delayed");
  const [row] = await t.app.ds.query(`SELECT status, upstream_task FROM generations WHERE id = $1`, [id]);
  expect(row.status).toBe("RUNNING");
  expect(row.upstream_task).toBeTruthy();
  return row.upstream_task;
}

const path = (p: string) => p.split("?")[0];

describe("async upstream tasks, polled (TASK_POLL_MIN_MS 50, TASK_POLL_MAX_MS 200, WORKER_CONCURRENCY 1)", () => {
  let minimax: MiniMaxFake;
  let replicate: ReplicateFake;
  let t: TestApp;
  beforeAll(async () => {
    [minimax, replicate] = await Promise.all([startMiniMaxFake(), startReplicateFake()]);
    t = await startTestApp({
      worker: { concurrency: 1 },
      providers: {
        vendors: {
          minimax: { baseUrl: minimax.url, keys: [{ label: "mm", key: MINIMAX_KEY }] },
          replicate: { baseUrl: replicate.url, keys: [{ label: "r8", key: REPLICATE_KEY }] },
        },
        pollMinMs: 50,
        pollMaxMs: 200,
        healthIntervalMs: 0,
      },
    } as never);
  });
  afterAll(async () => {
    await t?.close();
    await Promise.all([minimax?.close(), replicate?.close()]);
  });

  it("minimax text-to-video: PROGRESS events, SUCCEEDED with a video/mp4 file holding the upstream bytes; the worker slot is free meanwhile", async () => {
    minimax.queriesToFinish = 8; // Queueing, 6 × Processing, Success: well over a second of polling
    const before = minimax.requests.length;
    const created = await create(t, video("a paper boat on a rainy street"));
    expect(created.status).toBe("QUEUED");
    const sub = collect<{ seq: number; type: string; progress: number | null; generation: { status: string } }>(
      t.wsClient(t.adminKey), SUB, { id: created.id }, (e) => TERMINAL.includes(e.type), 15_000,
    );

    // With one worker slot, a text generation still runs while the video task is pending upstream.
    await pendingTask(t, created.id);
    const text = await create(t, { modality: "TEXT", model: "simulated/text", prompt: "meanwhile", cache: "BYPASS", wait: 10, params: { simulate: { latencyMs: 20 } } });
    expect(text.status).toBe("SUCCEEDED");
    expect((await get(t, created.id)).status).toBe("RUNNING");

    const events = await sub.done;
    expect(events.at(-1)!.type).toBe("SUCCEEDED");
    for (let i = 1; i < events.length; i++) expect(events[i].seq).toBe(events[i - 1].seq + 1);
    const progress = events.filter((e) => e.type === "PROGRESS").map((e) => e.progress!);
    expect(progress.length).toBeGreaterThanOrEqual(3);
    for (let i = 1; i < progress.length; i++) expect(progress[i]).toBeGreaterThanOrEqual(progress[i - 1]);
    expect(progress.at(-1)).toBe(1);
    // The task was re-checked, not restarted: STARTED once.
    expect(events.filter((e) => e.type === "STARTED").length).toBeLessThanOrEqual(1);

    const g = await get(t, created.id);
    expect(g.status).toBe("SUCCEEDED");
    expect(g.provider?.id).toBe("minimax");
    expect(Date.parse(text.completedAt!)).toBeLessThan(Date.parse(g.completedAt!));
    expect(g.progress).toBe(1);
    expect(g.attempts).toHaveLength(1);
    expect(g.attempts[0]).toMatchObject({ attemptNo: 1, status: "SUCCEEDED", keyLabel: "mm", provider: "minimax", model: "MiniMax-Hailuo-02" });
    expect(g.attempts[0].costUsd).toBeCloseTo(6 * 0.045, 6);
    expect(g.output!.mimeType).toBe("video/mp4");
    expect(g.output!.files).toHaveLength(1);
    expect(g.output!.files[0]).toMatchObject({ mimeType: "video/mp4", sizeBytes: FAKE_MP4.length, durationSeconds: 6, width: 1366, height: 768 });
    const res = await fetch(g.output!.url!);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/video\/mp4/);
    expect(Buffer.from(await res.arrayBuffer()).equals(FAKE_MP4)).toBe(true);

    // Upstream: one task created (with the pooled key), queried until Success, the file retrieved and downloaded.
    const calls = minimax.requests.slice(before);
    expect(calls.filter((r) => r.method === "POST" && path(r.path) === "/v1/video_generation")).toHaveLength(1);
    expect(calls.filter((r) => path(r.path) === "/v1/query/video_generation")).toHaveLength(8);
    expect(calls.filter((r) => path(r.path) === "/v1/files/retrieve")).toHaveLength(1);
    expect(calls.filter((r) => r.path.startsWith("/download/"))).toHaveLength(1);
    for (const r of calls.filter((x) => x.path.startsWith("/v1/"))) expect(r.headers.authorization).toBe(`Bearer ${MINIMAX_KEY}`);
    expect(calls.find((r) => r.method === "POST")!.body).toMatchObject({ model: "MiniMax-Hailuo-02", prompt: "a paper boat on a rainy street", duration: 6 });
    minimax.queriesToFinish = 3;
  });

  it("replicate image prediction: polled to the end, SUCCEEDED with the PNG at the requested size", async () => {
    const created = await create(t, image("a lighthouse at dusk", { wait: 15 }));
    const g = created.status === "SUCCEEDED" ? created : await terminal(t, created.id);
    expect(g.status).toBe("SUCCEEDED");
    expect(g.output!.files).toHaveLength(1);
    expect(g.output!.files[0]).toMatchObject({ mimeType: "image/png", width: 48, height: 32 });
    expect(g.attempts.map((a) => [a.status, a.keyLabel])).toEqual([["SUCCEEDED", "r8"]]);
    const png = Buffer.from(await (await fetch(g.output!.url!)).arrayBuffer());
    expect(png.subarray(1, 4).toString("latin1")).toBe("PNG");
  });

  it("the task fails upstream (task_failed): FAILED BAD_RESPONSE after JOB_ATTEMPTS tasks, each attempt showing the failure", async () => {
    minimax.scenario = "task_failed";
    try {
      const created = await create(t, video("this one will not render", { wait: 20 }));
      const g = TERMINAL.includes(created.status) ? created : await terminal(t, created.id);
      expect(g.status).toBe("FAILED");
      expect(g.error!.code).toBe("BAD_RESPONSE");
      expect(g.error!.message).toMatch(/video task \d+ failed/);
      expect(g.output).toBeNull();
      expect(g.attempts.map((a) => [a.attemptNo, a.status, a.errorKind, a.keyLabel])).toEqual([1, 2, 3].map((n) => [n, "FAILED", "bad_response", "mm"]));
    } finally {
      minimax.scenario = "ok";
    }
  });

  it("cancelling while the minimax task is pending: CANCELLED, and it is not polled any more", async () => {
    minimax.queriesToFinish = 10_000;
    try {
      const created = await create(t, video("cancel me while rendering"));
      await pendingTask(t, created.id);
      const queries = () => minimax.requests.filter((r) => path(r.path) === "/v1/query/video_generation").length;
      const cancelled = await t.gql<{ cancelGeneration: { status: string; error: { code: string } } }>(t.adminKey, CANCEL, { id: created.id });
      expect(cancelled.errors).toBeUndefined();
      expect(cancelled.data!.cancelGeneration.status).toBe("CANCELLED");
      const at = queries();
      await new Promise((r) => setTimeout(r, 700)); // several poll intervals
      expect(queries() - at).toBeLessThanOrEqual(1); // at most a re-check that was already running
      const g = await get(t, created.id);
      expect(g.status).toBe("CANCELLED");
      expect(g.error!.code).toBe("CANCELLED");
      expect(await t.app.queue.state(created.id)).not.toBe("delayed");
    } finally {
      minimax.queriesToFinish = 3;
    }
  });
});

describe("replicate: cancel and the signed completion webhook (TASK_POLL_MIN_MS 30000)", () => {
  const secretBytes = randomBytes(24);
  const secret = `whsec_${secretBytes.toString("base64")}`;
  const sign = (id: string, ts: string, body: string, key = secretBytes) => `v1,${createHmac("sha256", key).update(`${id}.${ts}.${body}`).digest("base64")}`;
  let replicate: ReplicateFake;
  let t: TestApp;
  beforeAll(async () => {
    replicate = await startReplicateFake();
    t = await startTestApp({
      providers: {
        vendors: { replicate: { baseUrl: replicate.url, keys: [{ label: "r8", key: REPLICATE_KEY }] } },
        pollMinMs: 30_000,
        pollMaxMs: 60_000,
        replicateWebhookSecret: secret,
        healthIntervalMs: 0,
      },
    } as never);
  });
  afterAll(async () => {
    await t?.close();
    await replicate?.close();
  });

  function postWebhook(body: string, headers: Record<string, string>): Promise<Response> {
    return fetch(`http://127.0.0.1:${t.port}/webhooks/providers/replicate`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body });
  }

  it("cancelling while the prediction runs: CANCELLED and POST /v1/predictions/{id}/cancel reaches Replicate", async () => {
    const created = await create(t, image("cancel this prediction"));
    const task = await pendingTask(t, created.id);
    expect(task).toMatchObject({ provider: "replicate", keyLabel: "r8" });
    const cancelled = await t.gql<{ cancelGeneration: { status: string } }>(t.adminKey, CANCEL, { id: created.id });
    expect(cancelled.errors).toBeUndefined();
    expect(cancelled.data!.cancelGeneration.status).toBe("CANCELLED");
    const hits = replicate.requests.filter((r) => r.method === "POST" && r.path === `/v1/predictions/${task.taskId}/cancel`);
    expect(hits).toHaveLength(1);
    expect(hits[0].headers.authorization).toBe(`Bearer ${REPLICATE_KEY}`);
    expect(replicate.predictions.get(task.taskId)!.status).toBe("canceled");
    expect((await get(t, created.id)).status).toBe("CANCELLED");
  });

  it("a correctly signed completion webhook finishes the generation long before the 30 s re-check; a wrongly signed one is 401", async () => {
    const t0 = Date.now();
    const created = await create(t, image("a fox in the snow"));
    const task = await pendingTask(t, created.id);
    // Replicate finishes the prediction, then calls the webhook with it as the body.
    const body = JSON.stringify(replicate.finishPrediction(task.taskId));
    const ts = String(Math.floor(Date.now() / 1000));
    const msgId = `msg_${randomBytes(8).toString("hex")}`;

    const forged = await postWebhook(body, { "webhook-id": msgId, "webhook-timestamp": ts, "webhook-signature": sign(msgId, ts, body, randomBytes(24)) });
    expect(forged.status).toBe(401);
    const unsigned = await postWebhook(body, { "webhook-id": msgId, "webhook-timestamp": ts });
    expect(unsigned.status).toBe(401);
    const tampered = await postWebhook(body.replace("succeeded", "failed"), { "webhook-id": msgId, "webhook-timestamp": ts, "webhook-signature": sign(msgId, ts, body) });
    expect(tampered.status).toBe(401);
    const stale = String(Math.floor(Date.now() / 1000) - 3600);
    expect((await postWebhook(body, { "webhook-id": msgId, "webhook-timestamp": stale, "webhook-signature": sign(msgId, stale, body) })).status).toBe(401);
    // None of those woke it.
    expect(await t.app.queue.state(created.id)).toBe("delayed");
    expect((await get(t, created.id)).status).toBe("RUNNING");

    const ok = await postWebhook(body, { "webhook-id": msgId, "webhook-timestamp": ts, "webhook-signature": sign(msgId, ts, body) });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ ok: true, woken: 1 });
    const g = await terminal(t, created.id, 10_000);
    expect(g.status).toBe("SUCCEEDED");
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(g.output!.files[0]).toMatchObject({ mimeType: "image/png", width: 48, height: 32 });
    expect(g.attempts.map((a) => [a.status, a.keyLabel])).toEqual([["SUCCEEDED", "r8"]]);

    // A webhook for a prediction no generation waits on is fine (nothing to wake).
    const again = await postWebhook(body, { "webhook-id": msgId, "webhook-timestamp": ts, "webhook-signature": sign(msgId, ts, body) });
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ ok: true, woken: 0 });
  });

  it("with REPLICATE_WEBHOOK_SECRET set, predictions are created with the webhook URL and the completed filter", async () => {
    const before = replicate.requests.length;
    const created = await create(t, image("tell me when you are done"));
    await pendingTask(t, created.id);
    const post = replicate.requests.slice(before).find((r) => r.method === "POST" && /predictions$/.test(path(r.path)));
    expect(post).toBeDefined();
    await t.gql(t.adminKey, CANCEL, { id: created.id });
    expect(post!.body).toMatchObject({ webhook: `${t.config.http.publicUrl}/webhooks/providers/replicate`, webhook_events_filter: ["completed"] });
  });
});
