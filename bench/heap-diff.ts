/**
 * `node -r ts-node/register/transpile-only bench/heap-diff.ts before.heapsnapshot after.heapsnapshot [per]`:
 * what the heap gained between two V8 heap snapshots, by node type and constructor (or function)
 * name: count and self size, largest first, each also divided by `per` (e.g. the subscriptions
 * opened in between). `npm run bench:fanout` with BENCH_FANOUT_HEAP_SNAPSHOTS=1 writes the pair.
 */
import { readFileSync } from "node:fs";

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

/** "type name" → { count, bytes } over every node of a snapshot. */
function tally(file: string): Map<string, { count: number; bytes: number }> {
  const s = JSON.parse(readFileSync(file, "utf8")) as Snapshot;
  const f = s.snapshot.meta.node_fields;
  const types = s.snapshot.meta.node_types[0];
  const [ti, ni, si, width] = [f.indexOf("type"), f.indexOf("name"), f.indexOf("self_size"), f.length];
  const out = new Map<string, { count: number; bytes: number }>();
  for (let i = 0; i < s.nodes.length; i += width) {
    const type = types[s.nodes[i + ti]];
    // Strings and numbers by type only: their "name" is their content.
    const name = type === "string" || type === "concatenated string" || type === "sliced string" || type === "number" ? "" : s.strings[s.nodes[i + ni]].slice(0, 60);
    const k = `${type} ${name}`;
    const e = out.get(k) ?? { count: 0, bytes: 0 };
    e.count++;
    e.bytes += s.nodes[i + si];
    out.set(k, e);
  }
  return out;
}

const [beforeFile, afterFile, perArg] = process.argv.slice(2);
const per = Number(perArg ?? 1);
const before = tally(beforeFile);
const after = tally(afterFile);
const rows = [...after].map(([k, a]) => {
  const b = before.get(k) ?? { count: 0, bytes: 0 };
  return { k, count: a.count - b.count, bytes: a.bytes - b.bytes };
});
const total = rows.reduce((n, r) => n + r.bytes, 0);
rows.sort((x, y) => y.bytes - x.bytes);
console.log(`heap gained ${(total / 1048576).toFixed(1)} MB, ${Math.round(total / per)} bytes per ${per > 1 ? "unit" : "snapshot"}`);
for (const r of rows.slice(0, 40)) {
  console.log(`${String(Math.round(r.bytes / per)).padStart(8)} B ${(r.count / per).toFixed(2).padStart(8)} ×  ${r.k}`);
}
