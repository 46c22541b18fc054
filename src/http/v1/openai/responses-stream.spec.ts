import { describe, expect, it } from "vitest";
import type { ResponseSource } from "./responses-object";
import { replayFromLog, ResponsesStreamMapper, SEQ_STRIDE, type LogEntry, type ResponseStreamEvent, type StreamInput } from "./responses-stream";

const gen = (over: Partial<ResponseSource> = {}): ResponseSource => ({
  id: "g1", status: "RUNNING", model: "simulated/text", provider: "simulated", createdAt: new Date(0), errorCode: null, errorMessage: null,
  candidates: [{ model: "simulated/text" }], textOptions: null, output: null, ...over,
});
const done = gen({ status: "SUCCEEDED", output: { text: "héllo world", usage: { inputTokens: 3, outputTokens: 2 } } });

/** A run's events as published: QUEUED, STARTED, two deltas with a PROGRESS between, SUCCEEDED. */
const live: StreamInput[] = [
  { seq: 1, type: "QUEUED", generation: gen({ status: "QUEUED" }) },
  { seq: 2, type: "STARTED", generation: gen() },
  { seq: 3, type: "DELTA", delta: "héllo", generation: gen() },
  { seq: 4, type: "PROGRESS", generation: gen() },
  { seq: 5, type: "DELTA", delta: " world", generation: gen() },
  { seq: 6, type: "SUCCEEDED", generation: done },
];
/** Its stream log (byte lengths: "héllo" is 6 bytes). */
const log: LogEntry[] = [{ seq: 2, mark: 0 }, { seq: 3, mark: 6 }, { seq: 5, mark: 12 }, { seq: 6, mark: -1 }];
const text = Buffer.from("héllo world");

const run = (inputs: StreamInput[]) => {
  const m = new ResponsesStreamMapper("g1", true);
  return inputs.flatMap((e) => m.map(e));
};
const deltas = (evs: ResponseStreamEvent[]) => evs.filter((e) => e.type === "response.output_text.delta").map((e) => e.delta).join("");

describe("ResponsesStreamMapper", () => {
  it("maps a run onto the Responses events, numbered from the seq", () => {
    const evs = run(live);
    expect(evs.map((e) => e.type)).toEqual([
      "response.created", "response.queued", "response.in_progress", "response.output_item.added", "response.content_part.added",
      "response.output_text.delta", "response.output_text.delta", "response.output_text.done", "response.content_part.done",
      "response.output_item.done", "response.completed",
    ]);
    expect(evs.map((e) => e.sequence_number)).toEqual([100, 101, 200, 300, 301, 302, 500, 600, 601, 602, 603]);
    expect(deltas(evs)).toBe("héllo world");
    expect(evs.at(-1)).toMatchObject({ response: { id: "resp_g1", status: "completed", output: [{ type: "message", content: [{ type: "output_text", text: "héllo world" }] }], usage: { total_tokens: 5 } } });
  });

  it("announces a restart after text went out, and the deltas after it add up to the answer", () => {
    const evs = run([
      ...live.slice(0, 3),
      { seq: 4, type: "RESTARTED", generation: gen() },
      { seq: 5, type: "DELTA", delta: "héllo world", generation: gen() },
      { seq: 6, type: "SUCCEEDED", generation: done },
    ]);
    const i = evs.findIndex((e) => e.type === "switchboard.output_text.restarted");
    expect(i).toBeGreaterThan(0);
    expect(deltas(evs.slice(i))).toBe("héllo world");
  });

  it("sends response.queued once, however often the queue position moves", () => {
    const q = (seq: number, queuePosition: number) => ({ seq, type: "QUEUED", queuePosition, generation: gen({ status: "QUEUED" }) }) as StreamInput;
    const evs = run([q(1, 9), q(2, 5), q(3, 1), ...live.slice(1).map((e) => ({ ...e, seq: e.seq + 2 }))]);
    expect(evs.filter((e) => e.type === "response.queued")).toHaveLength(1);
    expect(evs.at(-1)?.type).toBe("response.completed");
    expect(deltas(evs)).toBe("héllo world");
  });

  it("streams a cache hit (one SUCCEEDED event) as a whole answer", () => {
    const evs = run([{ seq: 1, type: "SUCCEEDED", generation: done }]);
    expect(deltas(evs)).toBe("héllo world");
    expect(evs.at(-1)?.type).toBe("response.completed");
    expect(evs.every((e) => e.sequence_number < 2 * SEQ_STRIDE)).toBe(true);
  });

  it("ends a failed generation with response.failed and its error", () => {
    const evs = run([live[0], live[1], { seq: 3, type: "FAILED", generation: gen({ status: "FAILED", errorCode: "PROVIDER_UNAVAILABLE", errorMessage: "down" }) }]);
    expect(evs.at(-1)).toMatchObject({ type: "response.failed", response: { status: "failed", error: { message: "down" } } });
  });
});

describe("replayFromLog", () => {
  it("rebuilds exactly the events after any sequence number", () => {
    const all = run(live);
    for (const after of [-1, ...all.map((e) => e.sequence_number)]) {
      const m = new ResponsesStreamMapper("g1", true);
      const resumed = replayFromLog(log, text, done, after).flatMap((e) => m.map(e)).filter((e) => e.sequence_number > after);
      const expected = all.filter((e) => e.sequence_number > after);
      expect(resumed.map((e) => [e.type, e.sequence_number, e.delta])).toEqual(expected.map((e) => [e.type, e.sequence_number, e.delta]));
    }
  });

  it("skips deltas of a discarded run the client never saw, and tells a client that saw them to discard them", () => {
    const restartLog: LogEntry[] = [{ seq: 2, mark: 0 }, { seq: 3, mark: 4 }, { seq: 4, mark: 0 }, { seq: 5, mark: 12 }, { seq: 6, mark: -1 }];
    const m1 = new ResponsesStreamMapper("g1", true);
    const fromStart = replayFromLog(restartLog, text, done, -1).flatMap((e) => m1.map(e));
    expect(deltas(fromStart)).toBe("héllo world");
    expect(fromStart.some((e) => e.type === "switchboard.output_text.restarted")).toBe(false);
    const m2 = new ResponsesStreamMapper("g1", true);
    const sawOld = replayFromLog(restartLog, text, done, 302).flatMap((e) => m2.map(e)).filter((e) => e.sequence_number > 302);
    expect(sawOld[0].type).toBe("switchboard.output_text.restarted");
    expect(deltas(sawOld)).toBe("héllo world");
  });

  it("answers a finished generation whole when the log is gone", () => {
    const m = new ResponsesStreamMapper("g1", null);
    const evs = replayFromLog([], Buffer.alloc(0), done, -1).flatMap((e) => m.map(e));
    expect(deltas(evs)).toBe("héllo world");
    expect(evs.at(-1)?.type).toBe("response.completed");
  });
});
