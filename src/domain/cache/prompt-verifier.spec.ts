import { describe, expect, it } from "vitest";
import { verifyMatch } from "./prompt-verifier";

const reason = (a: string, b: string) => {
  const v = verifyMatch(a, b);
  return v.ok ? "ok" : v.reason;
};

describe("semantic cache verification", () => {
  it("word order where it changes meaning: man bites dog is not dog bites man", () => {
    expect(reason("dog bites man", "man bites dog")).toBe("order");
    expect(reason("the cat sat on the mat", "the mat sat on the cat")).toBe("order");
    expect(reason("convert kilometers to miles", "convert miles to kilometers")).toBe("order");
    expect(reason("copy file a to file b", "copy file b to file a")).toBe("order");
    // Reordering that changes the joining words keeps the meaning.
    expect(reason("sunset over the ocean", "ocean at sunset")).toBe("ok");
    expect(reason("Write a poem about the sea", "Write a sea poem")).toBe("ok");
  });

  it("quoted strings must be the same, exactly", () => {
    expect(reason("translate 'man bites dog' into French", "translate 'dog bites man' into French")).toBe("quotes");
    expect(reason('Count the letters in "banana"', 'Count the letters in "bandana"')).toBe("quotes");
    expect(reason('Translate "good morning" into Spanish', 'Please translate "good morning" into Spanish')).toBe("ok");
    // An apostrophe is not a quote.
    expect(reason("What is France's capital?", "What's France's capital?")).toBe("ok");
  });

  it("numbers must be the same, digits and words alike", () => {
    expect(reason("List 5 fruits", "List 6 fruits")).toBe("numbers");
    expect(reason("List 5 fruits", "List five fruits")).toBe("ok");
    expect(reason("What is 15% of 80?", "What is 15% of 60?")).toBe("numbers");
    expect(reason("a population of 1,000", "a population of 1000")).toBe("ok");
    expect(reason("Explain the first law of thermodynamics", "Explain the second law of thermodynamics")).toBe("numbers");
  });

  it("negations must match: not, no, never, n't, without", () => {
    expect(reason("Is it safe to eat raw eggs?", "Is it not safe to eat raw eggs?")).toBe("negation");
    expect(reason("List foods that contain gluten", "List foods that don't contain gluten")).toBe("negation");
    expect(reason("a room with windows", "a room without windows")).toBe("negation");
    expect(reason("Why isn't the sky green?", "Why is the sky not green?")).toBe("ok");
  });

  it("named entities must match, capitalised or from the list of well-known names", () => {
    expect(reason("What is the capital of France?", "What is the capital of Germany?")).toBe("entities");
    expect(reason("what is the capital of france", "what is the capital of spain")).toBe("entities");
    expect(reason("Write a biography of Albert Einstein", "Write a biography of Isaac Newton")).toBe("entities");
    expect(reason("flights from Paris to London", "flights from London to Paris")).toBe("entities");
    expect(reason("What is the capital of France?", "what is the capital of france")).toBe("ok");
  });

  it("the same language", () => {
    expect(reason("What is the capital of France?", "Quelle est la capitale de la France ?")).toBe("language");
    expect(reason("Tell me a joke", "Расскажи мне анекдот")).toBe("language");
    expect(reason("I love you", "我爱你")).toBe("language");
  });

  it("antonyms and swapped content words are misses; one added framing word is not", () => {
    expect(reason("How do I increase my credit score?", "How do I decrease my credit score?")).toBe("antonym");
    expect(reason("How do I bake bread?", "How do I bake a cake?")).toBe("content");
    expect(reason("Write a story about a dragon", "Write a funny story about a dragon")).toBe("content");
    expect(reason("What is the capital of France?", "What's France's capital city?")).toBe("ok");
    expect(reason("How do I reverse a string in Python?", "How can I reverse a string in Python?")).toBe("ok");
  });

  it("is symmetric on the labelled set", () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { pairs } = require("../../../bench/data/semantic-pairs.json") as { pairs: { a: string; b: string }[] };
    expect(pairs.length).toBeGreaterThanOrEqual(200);
    for (const p of pairs) expect(verifyMatch(p.a, p.b).ok, `${p.a} | ${p.b}`).toBe(verifyMatch(p.b, p.a).ok);
  });
});
