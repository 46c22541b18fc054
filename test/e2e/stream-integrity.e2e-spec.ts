/**
 * A stream a client follows ends whole: after Redis loses this suite's keys mid-stream, every
 * subscriber (subscribed before or after the loss) still gets its terminal event, with seq
 * strictly increasing, and rebuilds output.text by the README's protocol (SNAPSHOT text, then
 * DELTAs, RESTARTED discards). And QUEUED is always the first state: seq 1, below STARTED.
 * Only this suite's own prefix is deleted (other suites share the Redis database).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dropRedisPrefix } from "../helpers/infra";
import { collect, startTestApp, type TestApp } from "../helpers/test-app";
import { spawnWorker, type WorkerProcess } from "../helpers/worker-process";
import { CREATE, SUB, rebuild, terminal, until, type Ev } from "../helpers/stream-protocol";

function expectIncreasing(events: Ev[]): void {
  for (let i = 1; i < events.length; i++) expect(events[i].seq, `event ${i} (${events[i].type}) of ${JSON.stringify(events.map((e) => [e.seq, e.type]))}`).toBeGreaterThan(events[i - 1].seq);
}

describe("stream integrity: Redis loses the suite's keys while text streams are in flight", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ worker: { concurrency: 16 } });
  });
  afterAll(async () => {
    await t?.close();
  });

  it("every subscriber, before or after the loss, gets its terminal event and the whole text; seq never goes back", { timeout: 120_000 }, async () => {
    const N = 6;
    const ids: string[] = [];
    for (let i = 0; i < N; i++) {
      const res = await t.gql(t.adminKey, CREATE, { input: { modality: "TEXT", model: "simulated/text", prompt: `keep me whole ${i} ${Math.random()}`, params: { simulate: { latencyMs: 5000 } } } });
      expect(res.errors).toBeUndefined();
      ids.push(res.data!.createGeneration.id);
    }
    const early = ids.map((id) => collect<Ev>(t.wsClient(t.adminKey), SUB, { id }, terminal, 90_000));
    // Every stream is mid-answer: a few deltas out, most still to come.
    await until(() => early.map((s) => s.events.filter((e) => e.type === "DELTA").length), (n) => n.every((x) => x >= 3), 30_000, "3 deltas on every stream");
    expect(early.every((s) => !s.events.some(terminal))).toBe(true);
    const seenBefore = early.map((s) => Math.max(...s.events.map((e) => e.seq)));

    await dropRedisPrefix(t.config.redis.prefix);
    // Subscribers that join right after the loss, before the runs publish again.
    const late = ids.map((id) => collect<Ev>(t.wsClient(t.adminKey), SUB, { id }, terminal, 90_000));

    const [earlyEvents, lateEvents] = await Promise.all([Promise.all(early.map((s) => s.done)), Promise.all(late.map((s) => s.done))]);
    for (const [i, id] of ids.entries()) {
      const [row] = await t.app.ds.query(`SELECT status, output FROM generations WHERE id = $1`, [id]);
      expect(row.status).toBe("SUCCEEDED");
      for (const [who, events, sub] of [["early", earlyEvents[i], early[i]], ["late", lateEvents[i], late[i]]] as const) {
        expect(sub.errors, who).toEqual([]);
        expect(events[0].type, who).toBe("SNAPSHOT");
        expect(events.at(-1)!.type, `${who}: ${JSON.stringify(events.map((e) => [e.seq, e.type]))}`).toBe("SUCCEEDED");
        expectIncreasing(events);
        expect(rebuild(events), `${who} subscriber of ${id}`).toBe(row.output.text);
      }
      // The early subscriber's events after the loss continue above what it had seen.
      const after = earlyEvents[i].filter((e) => e.seq > seenBefore[i]);
      expect(after.length).toBeGreaterThan(0);
    }
  });
});

describe("stream integrity: QUEUED is the first state, with a fast worker in another process", () => {
  let api: TestApp;
  let worker: WorkerProcess;
  beforeAll(async () => {
    api = await startTestApp({}, { workers: false });
    worker = await spawnWorker(api, { WORKER_CONCURRENCY: "64", USER_MAX_IN_FLIGHT: "0" }, 120_000);
  }, 180_000);
  afterAll(async () => {
    await worker?.stop();
    await api?.close();
  });

  // Generous limits: on a loaded 2-core CI machine a burst of 150 may take minutes; a lost
  // terminal event is still caught (the sweeper repairs one within SWEEP_GRACE_MS + SWEEP_INTERVAL_MS).
  it("QUEUED has seq 1, below STARTED, for every generation of a burst", { timeout: 300_000 }, async () => {
    const N = 150;
    const { key } = await api.createUser(undefined, { tier: "enterprise" });
    const sub = collect<{ seq: number; type: string; generation: { id: string } }>(
      api.wsClient(key), `subscription { myGenerations { seq type generation { id } } }`, {},
      // N burst terminals plus the probe's: counting the probe ended the stream one event early.
      (_, all) => all.filter(terminal).length >= N + 1, 240_000,
    );
    // Subscribed once a first event arrives: a throwaway generation.
    const probe = await api.gql(key, CREATE, { input: { modality: "TEXT", model: "simulated/text", prompt: "probe", params: { simulate: { latencyMs: 0 } } } });
    expect(probe.errors).toBeUndefined();
    await until(() => sub.events.length, (n) => n > 0, 20_000, "the first event");
    const probeId = probe.data!.createGeneration.id;
    await until(() => sub.events.filter((e) => e.generation.id === probeId && terminal(e)).length, (n) => n > 0, 20_000, "the probe to finish");
    const results = await Promise.all(
      Array.from({ length: N }, (_, i) =>
        api.gql(key, CREATE, { input: { modality: "TEXT", model: "simulated/text", prompt: `burst ${i} ${Math.random()}`, params: { simulate: { latencyMs: 0 } } } }),
      ),
    );
    expect(results.filter((r) => r.errors)).toEqual([]);
    const ids = new Set(results.map((r) => r.data!.createGeneration.id as string));
    const ended = await sub.done.then(() => "all terminal events arrived", (e: Error) => e.message.slice(0, 200));
    const byGen = new Map<string, { seq: number; type: string }[]>();
    for (const e of sub.events) if (ids.has(e.generation.id)) (byGen.get(e.generation.id) ?? byGen.set(e.generation.id, []).get(e.generation.id)!).push(e);
    const outOfOrder: string[] = [];
    for (const id of ids) {
      const evs = byGen.get(id) ?? [];
      const queued = evs.find((e) => e.type === "QUEUED");
      const started = evs.find((e) => e.type === "STARTED");
      expect(queued, `${id}: ${JSON.stringify(evs)}`).toBeDefined();
      expect(started, `${id}: ${JSON.stringify(evs)}`).toBeDefined();
      if (!evs.some(terminal)) {
        const [row] = await api.app.ds.query(`SELECT status, updated_at FROM generations WHERE id = $1`, [id]);
        expect.fail(`${id} has no terminal event (${ended}; ${sub.errors.length} subscription errors); row ${JSON.stringify(row)}; events ${JSON.stringify(evs)}`);
      }
      if (!(queued!.seq === 1 && queued!.seq < started!.seq)) outOfOrder.push(`${id}: ${JSON.stringify(evs.map((e) => [e.seq, e.type]))}`);
    }
    expect(outOfOrder).toEqual([]);
  });
});
