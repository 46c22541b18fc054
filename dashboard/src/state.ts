/**
 * Live state kept by the pages: the generations table (upserted from myGenerations events and
 * polls) and one generation's streamed text (generationUpdated events, gap-free `seq`: anything
 * at or below the last seq seen is dropped; SNAPSHOT carries the text so far, RESTARTED discards
 * partial output). Pure, so format/state specs cover it without a browser.
 */

export interface GenRow {
  id: string;
  status: string;
  model: string;
  modality: string;
  provider?: { id: string } | null;
  costUsd?: number | null;
  estimatedCostUsd?: number;
  createdAt: string;
  startedAt?: string | null;
  completedAt?: string | null;
  user?: { email: string } | null;
}

const RANK: Record<string, number> = { QUEUED: 0, RUNNING: 1, SUCCEEDED: 2, FAILED: 2, CANCELLED: 2 };

/**
 * Upserts rows into a table sorted newest first, at most `limit` rows. A row never moves back
 * from a terminal status to a live one (a late poll answer must not undo a live event).
 */
export function upsertRows(rows: GenRow[], incoming: GenRow[], limit = 100): GenRow[] {
  const byId = new Map(rows.map((r) => [r.id, r]));
  for (const r of incoming) {
    const old = byId.get(r.id);
    if (old && (RANK[old.status] ?? 0) > (RANK[r.status] ?? 0)) byId.set(r.id, { ...r, ...old });
    else byId.set(r.id, old ? { ...old, ...r } : r);
  }
  return [...byId.values()].sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : a.id < b.id ? 1 : -1)).slice(0, limit);
}

export interface StreamEvent {
  type: string;
  seq: number;
  delta?: string | null;
  text?: string | null;
  progress?: number | null;
  message?: string | null;
}

export interface StreamState {
  seq: number;
  text: string;
  progress: number;
  events: string[];
  done: boolean;
}

export const emptyStream = (): StreamState => ({ seq: -1, text: "", progress: 0, events: [], done: false });

export function applyEvent(s: StreamState, ev: StreamEvent): StreamState {
  if (ev.type !== "SNAPSHOT" && ev.seq <= s.seq) return s;
  if (ev.type === "SNAPSHOT" && ev.seq < s.seq) return s;
  const next: StreamState = { ...s, seq: ev.seq, events: [...s.events, ev.type].slice(-50) };
  if (ev.progress != null) next.progress = ev.progress;
  switch (ev.type) {
    case "SNAPSHOT":
      next.text = ev.text ?? "";
      break;
    case "DELTA":
      next.text = s.text + (ev.delta ?? "");
      break;
    case "RESTARTED":
      next.text = "";
      break;
    case "SUCCEEDED":
    case "FAILED":
    case "CANCELLED":
      next.done = true;
      if (ev.text != null) next.text = ev.text;
      break;
  }
  return next;
}

/** Queue depth by priority, in the order the queue serves them. */
export function priorityRows(byPriority: unknown): { priority: string; count: number }[] {
  const order = ["HIGH", "NORMAL", "LOW"];
  const rows: { priority: string; count: number }[] = [];
  if (Array.isArray(byPriority)) {
    for (const e of byPriority) if (e && typeof e === "object") rows.push({ priority: String((e as any).priority), count: Number((e as any).count ?? (e as any).waiting ?? 0) });
  } else if (byPriority && typeof byPriority === "object") {
    for (const [k, v] of Object.entries(byPriority)) rows.push({ priority: k, count: Number(v) });
  }
  return rows.sort((a, b) => (order.indexOf(a.priority) + 1 || 9) - (order.indexOf(b.priority) + 1 || 9));
}

export interface TransitionLike { provider: string; model: string | null; from: string; to: string; at: string }

/**
 * Live circuit transitions ahead of the stored ones, newest first, each once: the live event and
 * its stored row carry the same transition with timestamps a few ms apart (publish vs insert).
 */
export function mergeEvents<T extends TransitionLike>(live: T[], stored: T[], limit = 15): T[] {
  const out: T[] = [];
  for (const e of [...live, ...stored]) {
    const t = Date.parse(e.at);
    const dup = out.some((x) => x.provider === e.provider && (x.model ?? null) === (e.model ?? null) && x.from === e.from && x.to === e.to && Math.abs(Date.parse(x.at) - t) < 2000);
    if (!dup) out.push(e);
  }
  return out.sort((a, b) => Date.parse(b.at) - Date.parse(a.at)).slice(0, limit);
}
