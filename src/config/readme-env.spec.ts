import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { configSpec } from "./config";
import { varsOf } from "./spec";

const readme = readFileSync(path.join(__dirname, "../../README.md"), "utf8");
const vars = varsOf(configSpec);

/** Every config source file, sections included. */
function sources(dir = __dirname): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(path.join(dir, e.name)) : e.name.endsWith(".ts") && !e.name.endsWith(".spec.ts") ? [readFileSync(path.join(dir, e.name), "utf8")] : [],
  );
}

/**
 * The README's configuration table as variable → its default cell entry. A row naming several
 * variables lists one default per variable (`5` / `100`, or `–, us-east-1`), or one for all.
 */
function readmeDefaults(): Map<string, string> {
  const table = readme.slice(readme.indexOf("## Configuration"), readme.indexOf("\n## ", readme.indexOf("## Configuration") + 1));
  const out = new Map<string, string>();
  for (const row of table.split("\n").filter((l) => l.startsWith("| `"))) {
    const [, nameCell, defaultCell] = row.split("|").map((c) => c.trim());
    const names = [...nameCell.matchAll(/`([^`]+)`/g)].map((m) => m[1]);
    const defaults = names.length === 1 ? [defaultCell] : defaultCell.split(/\s\/\s|,\s/).map((d) => d.trim());
    names.forEach((n, i) => out.set(n, defaults.length === names.length ? defaults[i] : defaults.length === 1 ? defaults[0] : `(cannot pair ${names.length} names with "${defaultCell}")`));
  }
  return out;
}

/** Every variable the config reads is documented in the README's configuration table, with the code's default. */
describe("README documents every environment variable", () => {
  it("the spec names every variable the config code reads", () => {
    const src = sources().join("\n");
    const read = [
      ...[...src.matchAll(/\b(?:int|num|str|bool|oneOf|url|opt|optUrl|list)(?:<[^>]*>)?\("([A-Z0-9_]+)"/g)].map((m) => m[1]),
      ...[...src.matchAll(/\benv\.([A-Z][A-Z0-9_]+)/g)].map((m) => m[1]),
    ];
    expect(read.length).toBeGreaterThan(50);
    const names = new Set(vars.map((v) => v.name));
    expect([...new Set(read)].filter((n) => !names.has(n))).toEqual([]);
  });

  it("lists each name, each read by one field", () => {
    expect(vars.length).toBeGreaterThan(50);
    expect(vars.map((v) => v.name).filter((n, i, all) => all.indexOf(n) !== i)).toEqual([]);
    expect(vars.filter((v) => !readme.includes(`\`${v.name}\``)).map((v) => v.name)).toEqual([]);
  });

  it("shows each default as the code has it", () => {
    const table = readmeDefaults();
    const wrong = vars.flatMap((v) => {
      const shown = table.get(v.name);
      if (v.name.includes("<") || v.name === "HF_TOKEN") return []; // scanned patterns: documented in prose
      if (shown === undefined) return [`${v.name}: no row in the configuration table`];
      if (v.shown === undefined)
        // No default in code: the README says "–" or names what stands in (`DATABASE_URL`), never a value.
        return /^`[^`]*`/.test(shown) && !/^`[A-Z][A-Z0-9_]*`/.test(shown) ? [`${v.name}: README shows ${shown}, the code has no default`] : [];
      // A literal default is shown in backticks, a computed one as the spec's text; a note may follow.
      const want = v.shown;
      return shown === want || shown.startsWith(`${want} `) ? [] : [`${v.name}: README shows ${shown}, the code's default is ${want}`];
    });
    expect(wrong).toEqual([]);
  });
});
