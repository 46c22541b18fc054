/**
 * In-memory nearest-neighbour search per scope: one growing Float32Array matrix of
 * L2-normalised rows; a lookup is a dot product with every row (exact, no approximation).
 */
export interface SemanticHit {
  id: string;
  similarity: number;
}

class ScopeMatrix {
  ids: string[] = [];
  rows = 0;
  data: Float32Array;
  constructor(readonly dims: number) {
    this.data = new Float32Array(dims * 64);
  }
  add(id: string, v: Float32Array): void {
    if ((this.rows + 1) * this.dims > this.data.length) {
      const bigger = new Float32Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data.set(v, this.rows * this.dims);
    this.ids.push(id);
    this.rows++;
  }
  remove(id: string): boolean {
    const i = this.ids.indexOf(id);
    if (i < 0) return false;
    const last = this.rows - 1;
    if (i !== last) {
      this.data.copyWithin(i * this.dims, last * this.dims, (last + 1) * this.dims);
      this.ids[i] = this.ids[last];
    }
    this.ids.pop();
    this.rows--;
    return true;
  }
  best(q: Float32Array): SemanticHit | null {
    const d = this.dims;
    const data = this.data;
    // Prompt embeddings are sparse (a few words): multiply only the query's non-zero dimensions.
    const nz: number[] = [];
    for (let k = 0; k < d; k++) if (q[k] !== 0) nz.push(k);
    const idx = Int32Array.from(nz);
    const w = Float32Array.from(nz, (k) => q[k]);
    const m = idx.length;
    let bestI = -1;
    let bestS = -Infinity;
    for (let r = 0; r < this.rows; r++) {
      let s = 0;
      const o = r * d;
      for (let j = 0; j < m; j++) s += data[o + idx[j]] * w[j];
      if (s > bestS) {
        bestS = s;
        bestI = r;
      }
    }
    return bestI < 0 ? null : { id: this.ids[bestI], similarity: bestS };
  }
}

export class SemanticIndex {
  private readonly scopes = new Map<string, ScopeMatrix>();
  constructor(readonly dims = 256) {}

  add(scope: string, id: string, v: Float32Array): void {
    let m = this.scopes.get(scope);
    if (!m) this.scopes.set(scope, (m = new ScopeMatrix(this.dims)));
    if (!m.ids.includes(id)) m.add(id, v);
  }

  remove(scope: string, id: string): boolean {
    return this.scopes.get(scope)?.remove(id) ?? false;
  }

  /** The most similar entry in the scope at or above `threshold`, or null. */
  search(scope: string, q: Float32Array, threshold: number): SemanticHit | null {
    const hit = this.scopes.get(scope)?.best(q) ?? null;
    return hit && hit.similarity >= threshold ? { id: hit.id, similarity: Math.min(1, hit.similarity) } : null;
  }

  size(scope?: string): number {
    if (scope) return this.scopes.get(scope)?.rows ?? 0;
    let n = 0;
    for (const m of this.scopes.values()) n += m.rows;
    return n;
  }
}
