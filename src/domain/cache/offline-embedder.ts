/**
 * The offline hashed embedder: the semantic cache's fallback, and its only embedder when no
 * SEMANTIC_CACHE_EMBEDDING_MODEL is set or that model fails. Not a model — simulated quality: a
 * hashed bag of words (stop words dropped, plural "s" folded) plus, at a lower weight, the
 * character trigrams of each word (typos still land close). Word order is invisible to it ("dog
 * bites man" = "man bites dog" at similarity 1.0) and it knows no synonyms; the verification
 * step (prompt-verifier.ts) is what keeps its near neighbours from being served wrongly. No
 * network; L2-normalised, so dot product = cosine.
 */
/** Stored with every entry it embedded: vectors of different embedders are never compared. */
export const OFFLINE_EMBEDDER = "offline-hashed-v1";

const STOP = new Set(
  "a an the of at on in over under to for from with by and or but is are was were be been this that these those it its as into onto please me my your our".split(" "),
);

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** Plural folding, just enough for cache keys: foxes → fox, cats → cat, glass stays. */
function singular(w: string): string {
  if (w.length > 4 && /(x|z|ch|sh|ss)es$/.test(w)) return w.slice(0, -2);
  if (w.length > 3 && w.endsWith("s") && !w.endsWith("ss")) return w.slice(0, -1);
  return w;
}

export function words(text: string): string[] {
  return (text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []).filter((w) => !STOP.has(w)).map(singular);
}

export function offlineEmbedding(text: string, dims = 256): Float32Array {
  const v = new Float32Array(dims);
  const add = (token: string, weight: number) => {
    const h = fnv1a(token);
    v[h % dims] += h & 0x80000000 ? -weight : weight;
  };
  for (const w of words(text)) {
    add(`w:${w}`, 1);
    const padded = ` ${w} `;
    for (let i = 0; i + 3 <= padded.length; i++) add(`t:${padded.slice(i, i + 3)}`, 0.3);
  }
  let norm = 0;
  for (let i = 0; i < dims; i++) norm += v[i] * v[i];
  norm = Math.sqrt(norm);
  if (norm === 0) {
    v[0] = 1;
    return v;
  }
  for (let i = 0; i < dims; i++) v[i] /= norm;
  return v;
}
