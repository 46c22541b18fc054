/**
 * The check every semantic-cache candidate must pass before it is served, whatever embedder
 * found it: an embedding says two prompts are *about* the same thing, not that they *ask* the
 * same thing. Pure and cheap (a few µs per pair); heuristics, tuned for precision over recall:
 * a near neighbour that fails any check is a miss, never a wrong answer.
 *
 * Checks, in order (the first failure is the reason):
 * - `language`: same script, and for Latin script the same language by stop words (en fr es de
 *   it pt nl) when both can be told — an answer in French does not serve an English question.
 * - `quotes`: the same quoted strings, exactly, in order ("translate 'man bites dog'").
 * - `numbers`: the same numbers in order, digits and number words alike ("3" = "three").
 * - `negation`: the same count of negations (not, no, never, n't, without, except, …).
 * - `entities`: the same named entities (capitalised words that are not a sentence-initial common
 *   word, plus a small list of countries, cities, languages, months …), compared without case
 *   and in order.
 * - `antonym`: one prompt has a word whose opposite the other has instead (increase/decrease).
 * - `content`: the content words (stop words and instruction fillers left out, plurals and a few
 *   synonyms folded) may differ only by words added on one side, at most one of them; a word
 *   swapped for another ("bread" → "cake") fails.
 * - `order`: no relation reversed — two shared words joined by the same words in between but in
 *   the opposite order ("dog bites man" / "man bites dog", "cat on the mat" / "mat on the cat",
 *   "Paris to London" / "London to Paris"). Reordering that changes the joining words ("sunset
 *   over the ocean" / "ocean at sunset", "poem about the sea" / "sea poem") passes.
 */
export type VerifyFailure = "language" | "quotes" | "numbers" | "negation" | "entities" | "antonym" | "content" | "order";
export type Verdict = { ok: true } | { ok: false; reason: VerifyFailure };

export const VERIFY_FAILURES: readonly VerifyFailure[] = ["language", "quotes", "numbers", "negation", "entities", "antonym", "content", "order"];

import stem = require("wink-porter2-stemmer");
import { ARTICLES, FILLER, GAZETTEER, LETTER_NEXT, NEGATIONS, NUMBER_WORDS, OPPOSITE, STOP, SYNONYMS, set } from "./prompt-verifier-lexicon";

/** Script of a letter: the first matching class. */
const SCRIPTS: [string, RegExp][] = [
  ["latin", /\p{Script=Latin}/u], ["cyrillic", /\p{Script=Cyrillic}/u], ["greek", /\p{Script=Greek}/u], ["arabic", /\p{Script=Arabic}/u],
  ["hebrew", /\p{Script=Hebrew}/u], ["devanagari", /\p{Script=Devanagari}/u], ["kana", /[\p{Script=Hiragana}\p{Script=Katakana}]/u],
  ["hangul", /\p{Script=Hangul}/u], ["han", /\p{Script=Han}/u], ["thai", /\p{Script=Thai}/u],
];
const LATIN_LANGS: [string, Set<string>][] = [
  ["en", set("the is are what how why which who and of to in for with this that you your please can does do it an on")],
  ["fr", set("le la les est sont que qui quoi comment pourquoi et des du une un pour avec ce cette vous votre dans sur au aux en")],
  ["es", set("el los las es son que qué cómo como por qué y del una un para con este esta usted su en al se")],
  ["de", set("der die das ist sind was wie warum und des dem den ein eine für mit dieser diese sie ihr in auf zu nicht ich")],
  ["it", set("il lo gli è sono che cosa come perché e del della una un per con questo questa lei suo nel sul di")],
  ["pt", set("o os as é são que como por porque e do da uma um para com este esta você seu no na em ao")],
  ["nl", set("de het een is zijn wat hoe waarom en van voor met dit deze jij uw in op naar niet ik")],
];

interface Analysis {
  language: string;
  quotes: string[];
  numbers: number[];
  negations: number;
  entities: string[];
  /** Content words (stop words, fillers, negations and numbers left out), folded. */
  content: string[];
  /** Every token after folding, content or not (for the order check's joining words). */
  tokens: string[];
  /** Every word, lower case, not folded (antonyms). */
  words: string[];
}

const QUOTE_RE = /"([^"]+)"|“([^”]+)”|«\s*([^»]+?)\s*»|`([^`]+)`|(?:^|(?<=[\s(\[{:,]))'([^']+)'(?=$|[\s.,;:!?)\]}])|‘([^’]+)’/g;

function quotedStrings(text: string): { quotes: string[]; rest: string } {
  const quotes: string[] = [];
  const rest = text.replace(QUOTE_RE, (...m: string[]) => {
    const q = m.slice(1, 7).find((x) => x !== undefined) ?? "";
    quotes.push(q.trim().replace(/\s+/g, " "));
    return ` ${q} `;
  });
  return { quotes, rest };
}

function detectLanguage(text: string): string {
  const counts = new Map<string, number>();
  for (const ch of text) {
    if (!/\p{L}/u.test(ch)) continue;
    const s = SCRIPTS.find(([, re]) => re.test(ch))?.[0] ?? "other";
    counts.set(s, (counts.get(s) ?? 0) + 1);
  }
  // Japanese mixes kana with Han: any kana makes it Japanese.
  if (counts.get("kana")) return "ja";
  let script = "none";
  let best = 0;
  for (const [s, n] of counts) if (n > best) [script, best] = [s, n];
  if (script !== "latin") return script;
  const words = text.toLowerCase().match(/\p{L}+/gu) ?? [];
  let lang = "latin";
  let top = 0;
  let tie = false;
  for (const [l, stops] of LATIN_LANGS) {
    const n = words.filter((w) => stops.has(w)).length;
    if (n > top) [lang, top, tie] = [l, n, false];
    else if (n === top && n > 0) tie = true;
  }
  return top === 0 || tie ? "latin" : lang;
}

/** Synonyms folded, then the Porter2 stem: "exercising" = "exercise", "engineering" = "engineer". */
function fold(w: string): string {
  const s = SYNONYMS[w] ?? w;
  const st = stem(s);
  return SYNONYMS[st] ?? st;
}

/** One token per word; "don't" → "dont", "France's" → "france" + "s", "1,000.5" → "1000.5". */
function tokenize(text: string): { raw: string; lower: string; sentenceStart: boolean }[] {
  const out: { raw: string; lower: string; sentenceStart: boolean }[] = [];
  let start = true;
  const re = /(\d[\d,]*(?:\.\d+)?)|([\p{L}\p{M}]+(?:['’][\p{L}]+)*)|([.!?;:\n])/gu;
  for (const m of text.matchAll(re)) {
    if (m[3]) {
      if (m[3] !== ":" && m[3] !== ";") start = true;
      continue;
    }
    let raw = m[1] ? m[1].replace(/,(?=\d{3}\b)/g, "") : m[2];
    if (m[2]) {
      // Contractions: n't is a negation; 's and the like are split off.
      raw = raw.replace(/’/g, "'");
      const lower = raw.toLowerCase();
      if (/n't$/.test(lower)) {
        const base = lower === "won't" ? "wo" : lower === "can't" ? "ca" : lower.slice(0, -3);
        out.push({ raw: raw.slice(0, base.length), lower: base, sentenceStart: start });
        out.push({ raw: "not", lower: "not", sentenceStart: false });
        start = false;
        continue;
      }
      const parts = raw.split("'");
      parts.forEach((p, i) => out.push({ raw: p, lower: p.toLowerCase(), sentenceStart: start && i === 0 }));
      start = false;
      continue;
    }
    out.push({ raw, lower: raw.toLowerCase(), sentenceStart: start });
    start = false;
  }
  return out;
}

export function analyse(text: string): Analysis {
  const normal = text.normalize("NFKC");
  const { quotes, rest } = quotedStrings(normal);
  const language = detectLanguage(normal.replace(QUOTE_RE, " "));
  const toks = tokenize(rest);
  const numbers: number[] = [];
  const entities: string[] = [];
  const content: string[] = [];
  const tokens: string[] = [];
  let negations = 0;
  for (const [i, t] of toks.entries()) {
    // "a" naming a thing ("copy file a to file b") rather than an article: last, or before a joining word.
    const w = t.lower === "a" && (i === toks.length - 1 || LETTER_NEXT.has(toks[i + 1].lower)) ? "a_" : t.lower;
    if (/^\d/.test(w)) {
      numbers.push(Number(w));
      tokens.push(`#${Number(w)}`);
      continue;
    }
    if (NEGATIONS.has(w)) {
      negations++;
      tokens.push("¬");
      continue;
    }
    if (w in NUMBER_WORDS) {
      numbers.push(NUMBER_WORDS[w]);
      tokens.push(`#${NUMBER_WORDS[w]}`);
      continue;
    }
    const capital = /^\p{Lu}/u.test(t.raw);
    const folded = fold(w);
    // A capitalised word names something unless it merely starts a sentence (those are caught by the content check).
    if (GAZETTEER.has(w) || (capital && !t.sentenceStart && !STOP.has(w) && !FILLER.has(w))) entities.push(folded);
    tokens.push(folded);
    if (!STOP.has(w) && !FILLER.has(w) && !FILLER.has(folded)) content.push(folded);
  }
  return { language, quotes, numbers, negations, entities, content, tokens, words: toks.map((t) => t.lower) };
}

const latinish = (l: string) => l === "latin" || LATIN_LANGS.some(([x]) => x === l);

/** Same language, or one of them cannot be told ("latin": no stop word decided it; "none": no letters). */
function sameLanguage(a: string, b: string): boolean {
  if (a === b || a === "none" || b === "none") return true;
  return latinish(a) && latinish(b) && (a === "latin" || b === "latin");
}

const sameList = <T>(a: readonly T[], b: readonly T[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/** The pairs of shared content words joined by the same words in opposite order. */
function reversedRelation(a: Analysis, b: Analysis, shared: Set<string>): boolean {
  const positions = (x: Analysis) => {
    const pos = new Map<string, number>();
    x.tokens.forEach((t, i) => shared.has(t) && !pos.has(t) && pos.set(t, i));
    return pos;
  };
  const pa = positions(a);
  const pb = positions(b);
  const words = [...pa.keys()].slice(0, 40);
  const between = (x: Analysis, i: number, j: number) => x.tokens.slice(i + 1, j).filter((t) => !ARTICLES.has(t)).join(" ");
  for (let i = 0; i < words.length; i++)
    for (let j = i + 1; j < words.length; j++) {
      const [x, y] = [words[i], words[j]];
      const [ax, ay, bx, by] = [pa.get(x)!, pa.get(y)!, pb.get(x)!, pb.get(y)!];
      // x before y in one, after in the other: a reversal of the same relation if joined alike.
      if (ax < ay !== bx < by && between(a, Math.min(ax, ay), Math.max(ax, ay)) === between(b, Math.min(bx, by), Math.max(bx, by))) return true;
    }
  return false;
}

/** Whether `word` stands right before a shared content word (articles aside): an adjective or a noun modifier. */
function modifies(x: Analysis, word: string, shared: Set<string>): boolean {
  const rest = x.tokens.slice(x.tokens.indexOf(word) + 1).filter((t) => !ARTICLES.has(t));
  return rest.length > 0 && shared.has(rest[0]);
}

/** Whether a cached prompt (`candidate`) may answer `query`. Symmetric. */
export function verifyMatch(query: string, candidate: string): Verdict {
  const a = analyse(query);
  const b = analyse(candidate);
  const fail = (reason: VerifyFailure): Verdict => ({ ok: false, reason });
  if (!sameLanguage(a.language, b.language)) return fail("language");
  if (!sameList(a.quotes, b.quotes)) return fail("quotes");
  if (!sameList(a.numbers, b.numbers)) return fail("numbers");
  if (a.negations !== b.negations) return fail("negation");
  const ea = a.entities.filter((e) => !b.tokens.includes(e));
  const eb = b.entities.filter((e) => !a.tokens.includes(e));
  if (ea.length || eb.length) return fail("entities");
  const entOrder = (x: Analysis, other: Analysis) => x.tokens.filter((t) => (x.entities.includes(t) || other.entities.includes(t)));
  const dedupe = (l: string[]) => l.filter((t, i) => l.indexOf(t) === i);
  if (!sameList(dedupe(entOrder(a, b)), dedupe(entOrder(b, a)))) return fail("entities");
  const wa = new Set(a.words);
  const wb = new Set(b.words);
  for (const w of wa)
    if (!wb.has(w)) for (const o of OPPOSITE.get(w) ?? []) if (wb.has(o) && !wa.has(o)) return fail("antonym");
  const ca = new Set(a.content);
  const cb = new Set(b.content);
  const onlyA = [...ca].filter((w) => !cb.has(w));
  const onlyB = [...cb].filter((w) => !ca.has(w));
  if ((onlyA.length && onlyB.length) || onlyA.length + onlyB.length > 1) return fail("content");
  const shared = new Set([...ca].filter((w) => cb.has(w)));
  // One added word is allowed ("capital" / "capital city") unless it modifies a shared word ("story" / "funny story").
  if (onlyA.length && modifies(a, onlyA[0], shared)) return fail("content");
  if (onlyB.length && modifies(b, onlyB[0], shared)) return fail("content");
  if (shared.size >= 2 && reversedRelation(a, b, shared)) return fail("order");
  return { ok: true };
}
