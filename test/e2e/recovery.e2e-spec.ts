import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collect, startTestApp, type TestApp } from "../helpers/test-app";
import { spawnWorker, type WorkerProcess } from "../helpers/worker-process";

const CREATE = `mutation($input: CreateGenerationInput!) { createGeneration(input: $input) { id status } }`;
const SUB = `subscription($id: ID!) { generationUpdated(id: $id) { seq type delta generation { status } } }`;

interface Ev {
  seq: number;
  type: string;
  delta: string | null;
  generation: { status: string };
}
const terminal = (e: Ev) => ["SUCCEEDED", "FAILED", "CANCELLED"].includes(e.type);

async function create(t: TestApp, simulate: Record<string, unknown> = {}): Promise<string> {
  const res = await t.gql(t.adminKey, CREATE, { input: { modality: "TEXT", model: "simulated/text", prompt: `recover me ${Math.random()}`, params: { simulate } } });
  expect(res.errors).toBeUndefined();
  return res.data!.createGeneration.id;
}

/** The row as Postgres has it, with its attempts' statuses in order. */
async function row(t: TestApp, id: string) {
  const [g] = await t.app.ds.query(`SELECT status, run_attempt, error_code, output FROM generations WHERE id = $1`, [id]);
  const attempts = await t.app.ds.query(`SELECT status, error_kind FROM generation_attempts WHERE generation_id = $1 ORDER BY attempt_no`, [id]);
  return {
    ...g,
    attempts: attempts.map((a: { status: string }) => a.status) as string[],
    attempt_kinds: attempts.map((a: { error_kind: string | null }) => a.error_kind),
  };
}

/** Subscribes; `reached` resolves at the first event matching `when`, `done` at the terminal event. */
function watch(t: TestApp, id: string, when: (ev: Ev) => boolean = () => false) {
  let arrive!: () => void;
  const seen = new Promise<void>((r) => (arrive = r));
  const sub = collect<Ev>(t.wsClient(t.adminKey), SUB, { id }, (ev) => (when(ev) && arrive(), terminal(ev)), 20_000);
  const ended = sub.done.then((evs) => Promise.reject(new Error(`ended first: ${JSON.stringify(evs)}`)));
  const reached = Promise.race([seen, ended]);
  reached.catch(() => undefined); // only an error for callers that await it
  return { ...sub, reached };
}

describe("recovery", () => {
  const apps: TestApp[] = [];
  const children: WorkerProcess[] = [];
  const start = async (...args: Parameters<typeof startTestApp>) => {
    const t = await startTestApp(...args);
    apps.unshift(t); // closed newest first: apps sharing a database go before its owner
    return t;
  };
  afterAll(async () => {
    for (const c of children) await c.stop("SIGKILL");
    for (const t of apps) await t.close();
  });

  describe("(a) a generation whose job was deleted from Redis", () => {
    let api: TestApp;
    beforeAll(async () => {
      api = await start({ sweeper: { graceMs: 0 } }, { workers: false });
    });

    it("sweep() re-enqueues it, once", async () => {
      const id = await create(api);
      await (await api.app.queue.queue.getJob(id))!.remove();
      expect(await api.app.queue.state(id)).toBe("missing");
      expect(await api.app.sweeper.sweep()).toEqual({ requeued: 1, expired: 0, batches: 0 });
      expect(await api.app.queue.state(id)).toBe("waiting");
      expect(await api.app.sweeper.sweep()).toEqual({ requeued: 0, expired: 0, batches: 0 }); // its job is back: nothing to do
    });

    it("a worker's periodic sweep brings it back and it completes exactly once", async () => {
      const id = await create(api);
      await (await api.app.queue.queue.getJob(id))!.remove();
      const sub = watch(api, id);
      await start({ sweeper: { intervalMs: 300, graceMs: 0 } }, { db: api.db, prefix: api.config.redis.prefix });
      const events = await sub.done;
      expect(events.filter((e) => e.type === "SUCCEEDED")).toHaveLength(1);
      expect(events.at(-1)!.type).toBe("SUCCEEDED");
      await new Promise((r) => setTimeout(r, 900)); // asserting an absence: a few more sweeps must not run it again
      const g = await row(api, id);
      expect(g).toMatchObject({ status: "SUCCEEDED", run_attempt: 1, attempts: ["SUCCEEDED"], attempt_kinds: [null] });
    });
  });

  describe("(b) a generation left RUNNING by a SIGKILLed worker process", () => {
    let api: TestApp;
    let doomed: WorkerProcess;
    beforeAll(async () => {
      api = await start({}, { workers: false });
      doomed = await spawnWorker(api, { JOB_LOCK_MS: "1000" });
      children.push(doomed);
    });

    it("is taken over by another worker after the lock expires and completes exactly once", async () => {
      const id = await create(api, { latencyMs: 3000 });
      const sub = watch(api, id, (ev) => ev.type === "DELTA"); // mid-stream in the child process
      await sub.reached;
      expect((await row(api, id)).status).toBe("RUNNING");
      doomed.child.kill("SIGKILL");
      expect(await doomed.exited).toBe("SIGKILL");
      await start({ worker: { lockMs: 1000 } }, { db: api.db, prefix: api.config.redis.prefix });
      const events = await sub.done;
      expect(sub.errors).toEqual([]);
      expect(events.at(-1)!.type).toBe("SUCCEEDED");
      expect(events.filter((e) => e.type === "SUCCEEDED")).toHaveLength(1);
      for (let i = 1; i < events.length; i++) expect(events[i].seq).toBe(events[i - 1].seq + 1);
      const g = await row(api, id);
      expect(g.status).toBe("SUCCEEDED");
      expect(g.run_attempt).toBe(2);
      // The killed attempt is marked FAILED (worker_lost) by the next claim. Exactly one attempt succeeded.
      expect(g.attempts).toEqual(["FAILED", "SUCCEEDED"]);
      expect(g.attempt_kinds).toEqual(["worker_lost", null]);
      // The second attempt streamed afresh after its STARTED: those deltas are the whole answer.
      const lastStart = events.map((e) => e.type).lastIndexOf("STARTED");
      expect(lastStart).toBeGreaterThan(0);
      expect(events.slice(lastStart).filter((e) => e.type === "DELTA").map((e) => e.delta).join("")).toBe(g.output.text);
    });
  });

  describe("(c) a generation older than the maximum age", () => {
    let api: TestApp;
    beforeAll(async () => {
      api = await start({ sweeper: { maxAgeMs: 1000 } }, { workers: false });
    });

    it("is failed with EXPIRED by sweep(); younger ones are left alone", async () => {
      const old = await create(api);
      const young = await create(api);
      await api.app.ds.query(`UPDATE generations SET created_at = now() - interval '1 hour' WHERE id = $1`, [old]);
      const sub = watch(api, old, (ev) => ev.type === "SNAPSHOT");
      await sub.reached;
      expect(await api.app.sweeper.sweep()).toEqual({ requeued: 0, expired: 1, batches: 0 });
      expect(await row(api, old)).toMatchObject({ status: "FAILED", error_code: "EXPIRED" });
      expect(await row(api, young)).toMatchObject({ status: "QUEUED", error_code: null });
      expect(await api.app.queue.state(old)).toBe("missing");
      expect(await api.app.queue.state(young)).toBe("waiting");
      const events = await sub.done;
      expect(events.map((e) => [e.type, e.generation.status])).toEqual([["SNAPSHOT", "QUEUED"], ["FAILED", "FAILED"]]);
      const res = await api.gql(api.adminKey, `query($id: ID!) { generation(id: $id) { status error { code message } } }`, { id: old });
      expect(res.data!.generation).toMatchObject({ status: "FAILED", error: { code: "EXPIRED" } });
      expect(await api.app.sweeper.sweep()).toEqual({ requeued: 0, expired: 0, batches: 0 });
    });
  });
});
