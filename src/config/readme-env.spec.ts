import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

/** Every variable the config reads is documented in the README's configuration table. */
describe("README documents every environment variable", () => {
  it("lists each name read in config.ts", () => {
    const src = readFileSync(path.join(__dirname, "config.ts"), "utf8");
    const readme = readFileSync(path.join(__dirname, "../../README.md"), "utf8");
    const names = [...src.matchAll(/r\.(?:str|opt|int|num|bool|oneOf|url)\("([A-Z0-9_]+)"/g)].map((m) => m[1]);
    expect(names.length).toBeGreaterThan(50);
    const missing = [...new Set(names)].filter((n) => !readme.includes(`\`${n}\``));
    expect(missing).toEqual([]);
  });
});
