/**
 * `npm run bench:semantic`: semantic cache lookup latency (embed the prompt with the local
 * embedder + exact search over one scope) at 10k and 100k entries. Prints JSON.
 */
import { localEmbedding } from "../src/domain/cache/local-embedder";
import { SemanticIndex } from "../src/domain/cache/semantic-index";
import { summarise } from "./load";

const WORDS = "ocean sunset city night mountain lake dawn fox snow river forest desert storm cloud bridge tower garden robot castle dragon".split(" ");
const prompt = (i: number) => Array.from({ length: 6 }, (_, k) => WORDS[(i * 7 + k * 13 + (i >> k)) % WORDS.length]).join(" ") + ` ${i}`;

function run(n: number) {
  const idx = new SemanticIndex();
  for (let i = 0; i < n; i++) idx.add("user:bench", `g${i}`, localEmbedding(prompt(i)));
  const lat: number[] = [];
  let hits = 0;
  for (let i = 0; i < 200; i++) {
    const t = performance.now();
    if (idx.search("user:bench", localEmbedding(prompt((i * 997) % n)), 0.92)) hits++;
    lat.push(performance.now() - t);
  }
  return { entries: n, lookups: lat.length, hits, lookupMs: summarise(lat) };
}

const out = { bench: "semantic-cache-lookup", at: new Date().toISOString(), results: [run(10_000), run(100_000)] };
console.log(JSON.stringify(out, null, 2));
