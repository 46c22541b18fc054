/**
 * In-memory nearest-neighbour search per scope: one growing Float32Array matrix of
 * L2-normalised rows; a lookup is a dot product with every row (exact, no approximation).
 * A scope's dimension is set by its first vector; a vector of another length is never
 * compared with it (callers keep one scope per embedder).
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
  /** The `k` most similar rows at or above `threshold`, best first. */
  top(q: Float32Array, threshold: number, k: number): SemanticHit[] {
    const d = this.dims;
    if (q.length !== d) return [];
    const data = this.data;
    // Offline prompt embeddings are sparse (a few words): multiply only the query's non-zero dimensions.
    const nz: number[] = [];
    for (let j = 0; j < d; j++) if (q[j] !== 0) nz.push(j);
    const idx = Int32Array.from(nz);
    const w = Float32Array.from(nz, (j) => q[j]);
    const m = idx.length;
    const best: SemanticHit[] = [];
    for (let r = 0; r < this.rows; r++) {
      let s = 0;
      const o = r * d;
      for (let j = 0; j < m; j++) s += data[o + idx[j]] * w[j];
      if (s < threshold || (best.length === k && s <= best[k - 1].similarity)) continue;
      const hit = { id: this.ids[r], similarity: Math.min(1, s) };
      let i = best.length;
      while (i > 0 && best[i - 1].similarity < s) i--;
      best.splice(i, 0, hit);
      if (best.length > k) best.pop();
    }
    return best;
  }
}

export class SemanticIndex {
  private readonly scopes = new Map<string, ScopeMatrix>();

  add(scope: string, id: string, v: Float32Array): void {
    let m = this.scopes.get(scope);
    if (!m) this.scopes.set(scope, (m = new ScopeMatrix(v.length)));
    if (v.length === m.dims && !m.ids.includes(id)) m.add(id, v);
  }

  remove(scope: string, id: string): boolean {
    return this.scopes.get(scope)?.remove(id) ?? false;
  }

  /** The most similar entry in the scope at or above `threshold`, or null. */
  search(scope: string, q: Float32Array, threshold: number): SemanticHit | null {
    return this.searchTop(scope, q, threshold, 1)[0] ?? null;
  }

  /** Up to `k` entries of the scope at or above `threshold`, most similar first. */
  searchTop(scope: string, q: Float32Array, threshold: number, k: number): SemanticHit[] {
    return this.scopes.get(scope)?.top(q, threshold, k) ?? [];
  }

  size(scope?: string): number {
    if (scope) return this.scopes.get(scope)?.rows ?? 0;
    let n = 0;
    for (const m of this.scopes.values()) n += m.rows;
    return n;
  }
}
