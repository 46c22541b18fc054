/** Summarises a V8 .cpuprofile: self time by package/area and the hottest functions. */
import { readFileSync } from "node:fs";

interface Node { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number; children?: number[] }

function area(url: string): string {
  if (!url) return "(native/gc/idle)";
  // bench:peers runs our own code compiled under node_modules/.cache/switchboard-bench-peers/: it is src/…, not a package.
  const own = url.indexOf("/.cache/switchboard-bench-peers/");
  if (own >= 0) url = url.slice(own + "/.cache/switchboard-bench-peers".length);
  const nm = url.lastIndexOf("node_modules/");
  if (nm >= 0) {
    const rest = url.slice(nm + 13).split("/");
    return rest[0].startsWith("@") ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  if (url.startsWith("node:")) return "node core";
  const m = /\/(src|bench|test)\/(.*)$/.exec(url);
  return m ? `${m[1]}/${m[2].split("/").slice(0, 2).join("/")}` : url;
}

export function summariseProfile(file: string, top = 12) {
  const prof = JSON.parse(readFileSync(file, "utf8")) as { nodes: Node[]; samples: number[]; timeDeltas: number[] };
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  prof.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0)));
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const areas = new Map<string, number>();
  const fns = new Map<string, number>();
  for (const [id, us] of self) {
    const n = byId.get(id)!;
    const name = n.callFrame.functionName || "(anonymous)";
    const a = name === "(idle)" ? "(idle)" : name === "(garbage collector)" ? "(gc)" : area(n.callFrame.url);
    areas.set(a, (areas.get(a) ?? 0) + us);
    const key = `${name} ${a}`;
    fns.set(key, (fns.get(key) ?? 0) + us);
  }
  // selfPct: of the whole profile; busyPct: of the time the thread was not idle (what a cut would save).
  const busy = total - (areas.get("(idle)") ?? 0);
  const pct = (us: number, of: number) => (of ? Math.round((us / of) * 1000) / 10 : 0);
  const sorted = (m: Map<string, number>) =>
    [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, v]) => ({ name: k, selfPct: pct(v, total), ...(k.startsWith("(idle)") ? {} : { busyPct: pct(v, busy) }) }));
  return { totalMs: Math.round(total / 1000), busyMs: Math.round(busy / 1000), byArea: sorted(areas), hottestFunctions: sorted(fns) };
}
