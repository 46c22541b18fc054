/**
 * The simulated provider's fabricated classifier (MODERATION_PROVIDER=simulated): offline, no
 * model, nothing judged. It flags a text that carries the documented marker `[unsafe]` (category
 * `simulated`) or `[unsafe:<category>]` (that category, e.g. `[unsafe:violence]`); everything else
 * is clean. For drills, tests and demos only — it says nothing about real content.
 */
import type { ModerationVerdict } from "../contract";

const MARKER = /\[unsafe(?::([a-z][a-z/_-]*))?\]/gi;

export function simulatedVerdict(text: string): ModerationVerdict {
  const categories = new Set<string>();
  for (const m of text.matchAll(MARKER)) categories.add((m[1] ?? "simulated").toLowerCase());
  const list = [...categories].sort();
  return { flagged: list.length > 0, categories: list, scores: Object.fromEntries(list.map((c) => [c, 1])) };
}
