import { describe, expect, it } from "vitest";
import pino from "pino";
import { GenerationEntity } from "../../db/entities/generation.entity";
import type { TerminalListener } from "./generation-events";
import type { RunOutcome } from "./run/outcome";
import { SyncRun, type SyncRunDeps } from "./sync-run";

/**
 * SyncRun's waiting caller, with its collaborators as plain objects: a runner that commits the
 * terminal state (telling the terminal listeners, as GenerationEvents does just before the event
 * goes out) and then takes `publishMs` to finish publishing it.
 */
function harness(publishMs: number) {
  const listeners: TerminalListener[] = [];
  const released: string[] = [];
  const gen = Object.assign(new GenerationEntity(), { id: "g-1", userId: "u-1", priority: "NORMAL", groupId: null, status: "RUNNING" });
  const done = Object.assign(new GenerationEntity(), { ...gen, status: "SUCCEEDED", output: { text: "hi" } });
  let runEnded = false;
  const deps: SyncRunDeps = {
    runner: {
      async run(): Promise<RunOutcome> {
        await new Promise((r) => setTimeout(r, 5));
        for (const fn of listeners) fn(done, "SUCCEEDED"); // committed: the event is being sent
        await new Promise((r) => setTimeout(r, publishMs)); // …and its publish takes this long
        runEnded = true;
        return { kind: "finished", status: "SUCCEEDED" };
      },
    },
    queue: { enqueueIn: async () => undefined, promote: async () => false },
    leases: { hold: async () => undefined, drop: async () => undefined },
    events: { onTerminal: (fn) => void listeners.push(fn), subscribe: async () => () => undefined },
    reload: async () => done,
    fairness: {
      enabled: true,
      acquire: async () => true,
      releaseAndUnpark: async (_u: string, id: string) => {
        released.push(id);
        return null;
      },
      release: async () => undefined,
      unpark: async () => null,
    } as unknown as SyncRunDeps["fairness"],
    cfg: { slots: 4, leaseMs: 30_000, backoffMs: 100, attempts: 3 },
    log: pino({ level: "silent" }),
  };
  return { sync: new SyncRun(deps), gen, released, ended: () => runEnded };
}

describe("SyncRun: a waiting caller's answer", () => {
  it("comes once the terminal state is committed, not after its event's publish (a slow Redis), with the fairness slot already given back", async () => {
    const h = harness(2_000);
    const run = await h.sync.reserve(h.gen);
    expect(run).not.toBeNull();
    const t0 = Date.now();
    const row = await run!.run(30, async () => undefined);
    expect(row.status).toBe("SUCCEEDED");
    expect(row.output?.text).toBe("hi");
    expect(Date.now() - t0).toBeLessThan(1_500); // the publish alone takes 2 s
    expect(h.ended()).toBe(false); // the run is still publishing…
    expect(h.released).toEqual(["g-1"]); // …but the user's slot was already released
  });

  it("is the same row when the publish is quick", async () => {
    const h = harness(0);
    const run = await h.sync.reserve(h.gen);
    const row = await run!.run(30, async () => undefined);
    expect(row.status).toBe("SUCCEEDED");
    expect(h.released).toEqual(["g-1"]);
  });
});

describe("SyncRun: a row born RUNNING", () => {
  /** A runner that, like GenerationRunner, asks for its key at once and waits for the claim's STARTED before its call. */
  function born(publish: Promise<number>) {
    const h = harness(0);
    const seen: string[] = [];
    const enqueued: string[] = [];
    const deps = (h.sync as unknown as { d: SyncRunDeps }).d;
    deps.runner = {
      async run(job) {
        seen.push("key lease asked");
        await job.claimed!.started;
        seen.push("upstream call");
        return { kind: "finished", status: "SUCCEEDED" };
      },
    };
    deps.queue = { enqueueIn: async (id) => void enqueued.push(id), promote: async () => false };
    const claimed = { gen: h.gen, attemptNo: 1, takenOver: false, seqFloor: 1, started: publish };
    return { h, seen, enqueued, claimed };
  }

  it("starts its run while its QUEUED and STARTED go out: the key is asked for before they are answered, the call only after", async () => {
    let answer!: (seq: number) => void;
    const publish = new Promise<number>((r) => (answer = r));
    const { h, seen, claimed } = born(publish);
    const run = await h.sync.reserve(h.gen);
    const row = run!.run(30, () => publish, claimed);
    await new Promise((r) => setTimeout(r, 50));
    expect(seen).toEqual(["key lease asked"]); // the publish is still out
    answer(2);
    expect((await row).status).toBe("SUCCEEDED");
    expect(seen).toEqual(["key lease asked", "upstream call"]);
  });

  it("whose QUEUED fails: the caller hears the error, the run makes no call and hands the generation to the queue, the slot comes back", async () => {
    const publish = Promise.reject(new Error("redis down"));
    publish.catch(() => undefined);
    const { h, seen, enqueued, claimed } = born(publish);
    const run = await h.sync.reserve(h.gen);
    await expect(run!.run(30, () => publish, claimed)).rejects.toThrow("redis down");
    await new Promise((r) => setTimeout(r, 50));
    expect(seen).toEqual(["key lease asked"]);
    expect(enqueued).toEqual(["g-1"]);
    expect(h.released).toEqual(["g-1"]);
    // Every slot is free again: SYNC_IN_PROCESS_SLOTS (4) runs can be reserved.
    const again = await Promise.all([1, 2, 3, 4].map(() => h.sync.reserve(h.gen)));
    expect(again.every((r) => r !== null)).toBe(true);
  });
});
