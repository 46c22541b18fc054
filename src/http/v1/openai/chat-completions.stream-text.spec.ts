import { describe, expect, it } from "vitest";
import { StreamText, type Emit } from "./chat-completions.stream-text";

/** What a client honouring the restart marker ends with. */
function client(emits: Emit[]): string {
  let text = "";
  for (const e of emits) text = e.restart ? e.text : text + e.text;
  return text;
}

describe("StreamText", () => {
  it("passes deltas straight through", () => {
    const s = new StreamText();
    const out = [s.snapshot(""), s.delta("Hel"), s.delta("lo"), s.finish("Hello")];
    expect(out.filter((e) => e.text).map((e) => e.text)).toEqual(["Hel", "lo"]);
    expect(out.some((e) => e.restart)).toBe(false);
  });

  it("sends a snapshot's text first, then only new deltas", () => {
    const s = new StreamText();
    expect(s.snapshot("abc")).toEqual({ restart: false, text: "abc" });
    expect(s.delta("d")).toEqual({ restart: false, text: "d" });
    expect(s.finish("abcd")).toEqual({ restart: false, text: "" });
  });

  it("a restart that repeats the same text duplicates nothing and sends only what goes past it", () => {
    const s = new StreamText();
    const out = [s.delta("one two "), s.delta("three")];
    s.restart();
    out.push(s.delta("one two three"), s.delta(" four"), s.finish("one two three four"));
    expect(out.some((e) => e.restart)).toBe(false);
    expect(out.map((e) => e.text).join("")).toBe("one two three four");
  });

  it("holds a repeated prefix back until it departs, then marks one restart", () => {
    const s = new StreamText();
    const out = [s.delta("alpha beta")];
    s.restart();
    out.push(s.delta("alpha"));
    expect(out.at(-1)).toEqual({ restart: false, text: "" });
    out.push(s.delta(" gamma"), s.delta(" delta"), s.finish("alpha gamma delta"));
    expect(out.filter((e) => e.restart)).toHaveLength(1);
    expect(client(out)).toBe("alpha gamma delta");
  });

  it("a shorter final text than what was sent is a restart with the final text", () => {
    const s = new StreamText();
    const out = [s.delta("partial answer")];
    s.restart();
    out.push(s.delta("partial"), s.finish("partial"));
    expect(client(out)).toBe("partial");
    expect(out.at(-1)!.restart).toBe(true);
  });
});
