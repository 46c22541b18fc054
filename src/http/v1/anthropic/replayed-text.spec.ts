import { describe, expect, it } from "vitest";
import { ReplayedText } from "./replayed-text";

describe("ReplayedText", () => {
  it("passes deltas through until a restart", () => {
    const t = new ReplayedText();
    t.restart(); // nothing sent yet: nothing to replay
    expect([t.push("Hel"), t.push("lo")]).toEqual(["Hel", "lo"]);
    expect(t.complete()).toBe(true);
  });

  it("sends nothing while a restart repeats the sent text, then only what is new", () => {
    const t = new ReplayedText();
    t.push("Hello ");
    t.push("wor");
    t.restart();
    expect(t.push("Hel")).toBe("");
    expect(t.complete()).toBe(false);
    expect(t.push("lo w")).toBe("");
    expect(t.push("orld!")).toBe("ld!");
    expect(t.push(" Bye")).toBe(" Bye");
    expect(t.complete()).toBe(true);
  });

  it("a restart re-sending everything in one delta is invisible", () => {
    const t = new ReplayedText();
    t.push("abc");
    t.restart();
    expect(t.push("abc")).toBe("");
    expect(t.complete()).toBe(true);
  });

  it("null when the restarted text differs", () => {
    const t = new ReplayedText();
    t.push("Hello");
    t.restart();
    expect(t.push("Hi")).toBeNull();
  });
});
