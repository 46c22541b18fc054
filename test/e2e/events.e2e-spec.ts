import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collect, startTestApp, type TestApp } from "../helpers/test-app";

const SUB = `subscription($id: ID!) { generationUpdated(id: $id) { seq type delta text progress generation { status } } }`;
const CREATE = `mutation($input: CreateGenerationInput!) { createGeneration(input: $input) { id status } }`;
const GET = `query($id: ID!) { generation(id: $id) { status output { text } } }`;

interface Ev {
  seq: number;
  type: string;
  delta: string | null;
  text: string | null;
  progress: number | null;
  generation: { status: string };
}

const isTerminal = (e: Ev) => ["SUCCEEDED", "FAILED", "CANCELLED"].includes(e.type);

/** After the SNAPSHOT every event's seq is exactly the previous one + 1. */
function expectGapFree(events: Ev[]): void {
  expect(events[0].type).toBe("SNAPSHOT");
  for (let i = 1; i < events.length; i++) expect(events[i].seq, `event ${i} (${events[i].type})`).toBe(events[i - 1].seq + 1);
}

const deltas = (events: Ev[]) => events.filter((e) => e.type === "DELTA").map((e) => e.delta ?? "").join("");

describe("generation events over graphql-ws", () => {
  let t: TestApp;
  beforeAll(async () => {
    // One job at a time: a blocker ahead in the queue keeps the next generation QUEUED until we are subscribed.
    t = await startTestApp({ worker: { concurrency: 1 } });
  });
  afterAll(async () => {
    await t?.close();
  });

  async function create(input: Record<string, unknown>): Promise<string> {
    const res = await t.gql(t.adminKey, CREATE, { input: { modality: "TEXT", model: "simulated/text", ...input } });
    expect(res.errors).toBeUndefined();
    return res.data!.createGeneration.id;
  }

  async function finalText(id: string): Promise<string> {
    const res = await t.gql(t.adminKey, GET, { id });
    expect(res.data!.generation.status).toBe("SUCCEEDED");
    return res.data!.generation.output.text;
  }

  it("streams SNAPSHOT → STARTED → DELTA… → SUCCEEDED, gap-free, and the deltas add up to output.text", async () => {
    const blocker = await create({ prompt: "blocker", params: { simulate: { latencyMs: 800 } } });
    const id = await create({ prompt: "Stream the whole thing", params: { simulate: { latencyMs: 600 } } });
    const sub = collect<Ev>(t.wsClient(t.adminKey), SUB, { id }, isTerminal);
    const events = await sub.done;
    expect(sub.errors).toEqual([]);
    expectGapFree(events);
    expect(events[0].generation.status).toBe("QUEUED"); // the blocker still held the only slot
    // While it waits, the queue watcher may announce its place (a QUEUED event): only ever before STARTED.
    const all = events.map((e) => e.type);
    const started = all.indexOf("STARTED");
    expect(all.slice(1, started).every((x) => x === "QUEUED")).toBe(true);
    const types = all.filter((x, i) => !(i > 0 && i < started && x === "QUEUED"));
    expect(types[1]).toBe("STARTED");
    expect(types.at(-1)).toBe("SUCCEEDED");
    expect(new Set(types.slice(2, -1))).toEqual(new Set(["DELTA"]));
    expect(types.filter((x) => x === "DELTA").length).toBeGreaterThan(5);
    expect(events[0].text ?? "").toBe("");
    const text = await finalText(id);
    expect(text.length).toBeGreaterThan(40);
    expect(deltas(events)).toBe(text);
    await finalText(blocker);
  });

  it("gives a late subscriber the text so far in its SNAPSHOT; later deltas complete it exactly", async () => {
    const id = await create({ prompt: "A slow answer for a late subscriber", params: { simulate: { latencyMs: 1500 } } });
    const early = collect<Ev>(t.wsClient(t.adminKey), SUB, { id }, isTerminal);
    // Join once a few deltas have gone by, well before the ~40 tokens are done.
    await new Promise<void>((resolve, reject) => {
      const timer = setInterval(() => {
        const finished = early.events.some(isTerminal);
        if (!finished && early.events.filter((e) => e.type === "DELTA").length < 5) return;
        clearInterval(timer);
        if (finished) reject(new Error("finished before the late subscriber joined"));
        else resolve();
      }, 10);
    });
    const late = collect<Ev>(t.wsClient(t.adminKey), SUB, { id }, isTerminal);
    const [lateEvents, earlyEvents] = await Promise.all([late.done, early.done]);
    expect(late.errors).toEqual([]);
    expectGapFree(lateEvents);
    expectGapFree(earlyEvents);
    const snapshot = lateEvents[0];
    expect(snapshot.generation.status).toBe("RUNNING");
    const text = await finalText(id);
    expect(snapshot.text!.length).toBeGreaterThan(0);
    expect(snapshot.text!.length).toBeLessThan(text.length);
    expect(text.startsWith(snapshot.text!)).toBe(true);
    expect(snapshot.text! + deltas(lateEvents)).toBe(text);
    // Both subscribers saw the same events from the late one's snapshot on.
    const tail = earlyEvents.filter((e) => e.seq > snapshot.seq).map((e) => [e.seq, e.type, e.delta]);
    expect(lateEvents.slice(1).map((e) => [e.seq, e.type, e.delta])).toEqual(tail);
  });

  it("gives a subscriber after completion one SUCCEEDED SNAPSHOT with the full text, then completes", async () => {
    const res = await t.gql(t.adminKey, `mutation { createGeneration(input: {modality: TEXT, model: "simulated/text", prompt: "Already done", wait: 10}) { id status output { text } } }`);
    const done = res.data!.createGeneration;
    expect(done.status).toBe("SUCCEEDED");
    const sub = collect<Ev>(t.wsClient(t.adminKey), SUB, { id: done.id }, () => false, 5000);
    const events = await sub.done; // resolves on `complete`; the timeout would reject
    expect(sub.errors).toEqual([]);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: "SNAPSHOT", text: done.output.text, generation: { status: "SUCCEEDED" } });
  });

  it("reports PROGRESS events with increasing progress for an IMAGE", async () => {
    await create({ prompt: "blocker", params: { simulate: { latencyMs: 800 } } });
    const id = await create({ modality: "IMAGE", model: "simulated/image", prompt: "a red square", image: { width: 32, height: 32 }, params: { simulate: { latencyMs: 500, steps: 5 } } });
    const sub = collect<Ev>(t.wsClient(t.adminKey), SUB, { id }, isTerminal);
    const events = await sub.done;
    expectGapFree(events);
    expect(events.at(-1)!.type).toBe("SUCCEEDED");
    const progress = events.filter((e) => e.type === "PROGRESS").map((e) => e.progress!);
    expect(progress).toHaveLength(5);
    for (let i = 1; i < progress.length; i++) expect(progress[i]).toBeGreaterThan(progress[i - 1]);
    expect(progress.at(-1)).toBe(1);
  });
});
