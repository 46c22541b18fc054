import { describe, expect, it } from "vitest";
import { applyEvent, emptyStream, mergeEvents, priorityRows, upsertRows, type GenRow } from "./state";

const row = (id: string, status: string, createdAt: string): GenRow => ({ id, status, model: "simulated/text", modality: "TEXT", createdAt });

describe("generations table", () => {
  it("upserts newest first and caps the table", () => {
    let rows = upsertRows([], [row("a", "QUEUED", "2026-01-01T00:00:01Z"), row("b", "QUEUED", "2026-01-01T00:00:02Z")]);
    expect(rows.map((r) => r.id)).toEqual(["b", "a"]);
    rows = upsertRows(rows, [row("a", "RUNNING", "2026-01-01T00:00:01Z")]);
    expect(rows.find((r) => r.id === "a")!.status).toBe("RUNNING");
    expect(upsertRows(rows, [row("c", "QUEUED", "2026-01-01T00:00:03Z")], 2).map((r) => r.id)).toEqual(["c", "b"]);
  });

  it("a late poll answer never moves a terminal row back to a live status", () => {
    const rows = upsertRows([], [{ ...row("a", "SUCCEEDED", "2026-01-01T00:00:01Z"), costUsd: 0.01 }]);
    const after = upsertRows(rows, [row("a", "RUNNING", "2026-01-01T00:00:01Z")]);
    expect(after[0]).toMatchObject({ status: "SUCCEEDED", costUsd: 0.01 });
  });
});

describe("one generation's stream", () => {
  it("SNAPSHOT then DELTAs; repeats and stale seqs are dropped; RESTARTED discards; terminal ends", () => {
    let s = emptyStream();
    s = applyEvent(s, { type: "SNAPSHOT", seq: 2, text: "Hel" });
    s = applyEvent(s, { type: "DELTA", seq: 2, delta: "XX" }); // already in the snapshot
    s = applyEvent(s, { type: "DELTA", seq: 3, delta: "lo" });
    s = applyEvent(s, { type: "DELTA", seq: 3, delta: "lo" }); // a repeat
    expect(s.text).toBe("Hello");
    s = applyEvent(s, { type: "RESTARTED", seq: 4 });
    expect(s.text).toBe("");
    s = applyEvent(s, { type: "DELTA", seq: 5, delta: "Hi" });
    s = applyEvent(s, { type: "SUCCEEDED", seq: 6, progress: 1 });
    expect(s).toMatchObject({ text: "Hi", done: true, progress: 1, seq: 6 });
    expect(s.events).toEqual(["SNAPSHOT", "DELTA", "RESTARTED", "DELTA", "SUCCEEDED"]);
  });

  it("a stale SNAPSHOT (lower seq, e.g. after a reconnect race) does not roll the text back", () => {
    let s = applyEvent(emptyStream(), { type: "SNAPSHOT", seq: 5, text: "abcdef" });
    s = applyEvent(s, { type: "SNAPSHOT", seq: 3, text: "abc" });
    expect(s.text).toBe("abcdef");
  });
});

describe("queue depth by priority", () => {
  it("orders HIGH, NORMAL, LOW from the API's list", () => {
    expect(priorityRows([{ priority: "LOW", count: 1 }, { priority: "HIGH", count: 3 }, { priority: "NORMAL", count: 0 }])).toEqual([
      { priority: "HIGH", count: 3 }, { priority: "NORMAL", count: 0 }, { priority: "LOW", count: 1 },
    ]);
    expect(priorityRows(null)).toEqual([]);
  });
});

describe("circuit transitions", () => {
  it("a live event and its stored row (ms apart) show once; distinct transitions stay, newest first", () => {
    const ev = (to: string, at: string, from = "CLOSED") => ({ provider: "p", model: null, from, to, at });
    const merged = mergeEvents([ev("OPEN", "2026-01-01T00:00:10.005Z")], [ev("OPEN", "2026-01-01T00:00:10.001Z"), ev("CLOSED", "2026-01-01T00:00:05Z", "HALF_OPEN"), ev("OPEN", "2026-01-01T00:00:01Z")]);
    expect(merged.map((e) => `${e.to}@${e.at.slice(17, 19)}`)).toEqual(["OPEN@10", "CLOSED@05", "OPEN@01"]);
  });
});
