import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collect, startTestApp, type TestApp } from "../helpers/test-app";
import { spawnWorker } from "../helpers/worker-process";

interface Ev {
  type: string;
  generation: { status: string };
}

describe("graceful shutdown: a job still running after the grace period goes back to the queue", () => {
  let api: TestApp;
  beforeAll(async () => {
    api = await startTestApp({}, { workers: false });
  });
  afterAll(async () => {
    await api?.close();
  });

  it("SIGTERM: the worker exits 0 after SHUTDOWN_GRACE_MS; another worker finishes the generation exactly once", async () => {
    const doomed = await spawnWorker(api, { SHUTDOWN_GRACE_MS: "500" });
    const created = await api.gql(api.adminKey, `mutation { createGeneration(input: {modality: TEXT, model: "simulated/text", prompt: "hand me back", params: {simulate: {latencyMs: 4000}}}) { id } }`);
    const id = created.data!.createGeneration.id as string;
    const sub = collect<Ev>(api.wsClient(api.adminKey), `subscription($id: ID!) { generationUpdated(id: $id) { type generation { status } } }`, { id }, (e) => e.type === "SUCCEEDED" || e.type === "FAILED", 30_000);
    while (!sub.events.some((e) => e.type === "STARTED" || e.generation.status === "RUNNING")) await new Promise((r) => setTimeout(r, 20));

    const t0 = Date.now();
    await doomed.stop("SIGTERM", 10_000);
    expect(await doomed.exited).toBe(0);
    expect(Date.now() - t0).toBeLessThan(3500); // did not wait for the 4 s upstream call
    const [mid] = await api.app.ds.query(`SELECT status FROM generations WHERE id = $1`, [id]);
    expect(mid.status).toBe("QUEUED");
    expect(await api.app.queue.state(id)).not.toBe("missing");

    const rescuer = await spawnWorker(api);
    try {
      const events = await sub.done;
      expect(events.at(-1)!.type).toBe("SUCCEEDED");
      const types = events.map((e) => e.type);
      expect(types.indexOf("RESTARTED")).toBeGreaterThan(0);
      expect(types.lastIndexOf("STARTED")).toBeGreaterThan(types.indexOf("RESTARTED"));
      const attempts = await api.app.ds.query(`SELECT status FROM generation_attempts WHERE generation_id = $1 ORDER BY attempt_no`, [id]);
      expect(attempts.map((a: { status: string }) => a.status)).toEqual(["CANCELLED", "SUCCEEDED"]);
      const [done] = await api.app.ds.query(`SELECT status, run_attempt FROM generations WHERE id = $1`, [id]);
      expect(done).toEqual({ status: "SUCCEEDED", run_attempt: 2 });
    } finally {
      await rescuer.stop();
    }
  });
});
