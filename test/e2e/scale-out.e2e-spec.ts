import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collect, startTestApp, type TestApp } from "../helpers/test-app";
import { spawnWorker, type WorkerProcess } from "../helpers/worker-process";

const CREATE = `mutation($input: CreateGenerationInput!) { createGeneration(input: $input) { id status } }`;
const GET = `query($id: ID!) { generation(id: $id) { status output { text url mimeType } attempts { status } } }`;
const SUB = `subscription($id: ID!) { generationUpdated(id: $id) { seq type delta text generation { status } } }`;

interface Ev {
  seq: number;
  type: string;
  delta: string | null;
  text: string | null;
  generation: { status: string };
}
const terminal = (e: Ev) => ["SUCCEEDED", "FAILED", "CANCELLED"].includes(e.type);

describe("scale-out: an API-only node and a worker in another process", () => {
  let api: TestApp;
  let worker: WorkerProcess;
  beforeAll(async () => {
    api = await startTestApp({}, { workers: false });
    worker = await spawnWorker(api);
  });
  afterAll(async () => {
    await worker?.stop();
    await api?.close();
  });

  it("runs nothing on the API node itself", async () => {
    expect(api.app.runner).toBeUndefined();
  });

  it("streams a generation run by the worker process to a subscriber on the API node", async () => {
    const created = await api.gql(api.adminKey, CREATE, { input: { modality: "TEXT", model: "simulated/text", prompt: "From another process", params: { simulate: { latencyMs: 600 } } } });
    expect(created.errors).toBeUndefined();
    const id = created.data!.createGeneration.id;
    const sub = collect<Ev>(api.wsClient(api.adminKey), SUB, { id }, terminal);
    const events = await sub.done;
    expect(sub.errors).toEqual([]);
    expect(events[0].type).toBe("SNAPSHOT");
    expect(events.at(-1)!.type).toBe("SUCCEEDED");
    for (let i = 1; i < events.length; i++) expect(events[i].seq).toBe(events[i - 1].seq + 1);
    expect(events.filter((e) => e.type === "DELTA").length).toBeGreaterThan(3);
    const g = (await api.gql(api.adminKey, GET, { id })).data!.generation;
    expect(g.status).toBe("SUCCEEDED");
    expect(g.attempts).toEqual([{ status: "SUCCEEDED" }]);
    expect((events[0].text ?? "") + events.filter((e) => e.type === "DELTA").map((e) => e.delta).join("")).toBe(g.output.text);
  });

  it("stores media written by the worker process where the API node serves it", async () => {
    const res = await api.gql(api.adminKey, `mutation { createGeneration(input: {modality: IMAGE, model: "simulated/image", prompt: "cross-process", image: {width: 16, height: 16}, wait: 20}) { id status output { url mimeType } } }`);
    const g = res.data!.createGeneration;
    expect(g.status).toBe("SUCCEEDED");
    const file = await fetch(g.output.url);
    expect(file.status).toBe(200);
    expect(file.headers.get("content-type")).toBe("image/png");
  });

  it("a cancel on the API node aborts the upstream call in the worker process", async () => {
    const created = await api.gql(api.adminKey, CREATE, { input: { modality: "TEXT", model: "simulated/text", prompt: "Cancel me remotely", params: { simulate: { latencyMs: 10_000 } } } });
    const id = created.data!.createGeneration.id;
    let streaming!: () => void;
    const deltaSeen = new Promise<void>((r) => (streaming = r));
    const sub = collect<Ev>(api.wsClient(api.adminKey), SUB, { id }, (e) => (e.type === "DELTA" && streaming(), terminal(e)));
    await deltaSeen; // the worker process is mid-stream
    const res = await api.gql(api.adminKey, `mutation($id: ID!) { cancelGeneration(id: $id) { status } }`, { id });
    expect(res.data!.cancelGeneration.status).toBe("CANCELLED");
    expect((await sub.done).at(-1)!.type).toBe("CANCELLED");
    // The worker process settles its attempt as CANCELLED only once the abort reached the provider.
    const deadline = Date.now() + 5000;
    let attempts: { status: string; latency_ms: number | null }[] = [];
    while (Date.now() < deadline) {
      attempts = await api.app.ds.query(`SELECT status, latency_ms FROM generation_attempts WHERE generation_id = $1`, [id]);
      if (attempts[0]?.status !== "RUNNING") break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(attempts).toHaveLength(1);
    expect(attempts[0].status).toBe("CANCELLED");
    expect(attempts[0].latency_ms).toBeLessThan(5000);
    expect((await api.gql(api.adminKey, GET, { id })).data!.generation.status).toBe("CANCELLED");
  });

  it("the worker process shuts down cleanly on SIGTERM", async () => {
    await worker.stop("SIGTERM");
    expect(await worker.exited, worker.output()).toBe(0);
    expect(worker.output()).not.toMatch(/error/i);
  });
});
