/** Pure formatting for the dashboard's tables and charts (unit-tested in format.spec.ts). */

export function usd(v: number | null | undefined): string {
  if (v == null || !Number.isFinite(v)) return "—";
  if (v === 0) return "$0";
  const abs = Math.abs(v);
  const digits = abs >= 100 ? 2 : abs >= 1 ? 3 : abs >= 0.01 ? 4 : 6;
  return `${v < 0 ? "-" : ""}$${abs.toFixed(digits).replace(/(\.\d*?[1-9])0+$/, "$1").replace(/\.0+$/, "")}`;
}

export function ms(v: number | null | undefined): string {
  if (v == null || !Number.isFinite(v)) return "—";
  if (v < 1000) return `${Math.round(v)} ms`;
  if (v < 60_000) return `${(v / 1000).toFixed(v < 10_000 ? 2 : 1)} s`;
  const m = Math.floor(v / 60_000);
  return `${m} min ${Math.round((v % 60_000) / 1000)} s`;
}

/** Latency of a generation: completed − started (or − created for cache hits), null while running. */
export function latencyMs(g: { createdAt: string; startedAt?: string | null; completedAt?: string | null }): number | null {
  if (!g.completedAt) return null;
  const from = Date.parse(g.startedAt ?? g.createdAt);
  const to = Date.parse(g.completedAt);
  return Number.isFinite(from) && Number.isFinite(to) ? Math.max(0, to - from) : null;
}

/** "12 s ago", "3 min ago"; "in 20 s" for a future instant (cooldowns, next probe). */
export function relative(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return "—";
  const d = Date.parse(iso) - now;
  const a = Math.abs(d);
  const s = a < 60_000 ? `${Math.round(a / 1000)} s` : a < 3_600_000 ? `${Math.round(a / 60_000)} min` : a < 86_400_000 ? `${Math.round(a / 3_600_000)} h` : `${Math.round(a / 86_400_000)} d`;
  return d >= 0 ? `in ${s}` : `${s} ago`;
}

export function pct(v: number | null | undefined): string {
  if (v == null || !Number.isFinite(v)) return "—";
  return `${(v * 100).toFixed(v >= 0.1 || v === 0 ? 0 : 1)}%`;
}

export const TERMINAL = new Set(["SUCCEEDED", "FAILED", "CANCELLED"]);

export const cancellable = (status: string) => status === "QUEUED" || status === "RUNNING";

export interface QuotaFigures {
  limitUsd: number;
  spentUsd: number;
  reservedUsd: number;
  remainingUsd: number;
}

/**
 * Shares of the budget for the quota bar, each clamped to [0, 1], and whether spent + reserved
 * has crossed the warning ratio (the same rule as the QUOTA_WARNING event).
 */
export function quotaBar(q: QuotaFigures, warnRatio: number | null | undefined) {
  const limit = q.limitUsd > 0 ? q.limitUsd : 0;
  const share = (v: number) => (limit ? Math.min(1, Math.max(0, v / limit)) : v > 0 ? 1 : 0);
  const spent = share(q.spentUsd);
  const reserved = Math.min(1 - spent, share(q.reservedUsd));
  const used = limit ? (q.spentUsd + q.reservedUsd) / limit : q.spentUsd + q.reservedUsd > 0 ? Infinity : 0;
  const warnAt = warnRatio == null ? null : Math.min(1, Math.max(0, warnRatio));
  return { spent, reserved, used, warnAt, warning: warnAt != null && used >= warnAt, exhausted: q.remainingUsd <= 0 && limit > 0 };
}

/** A provider key's cooldown left, in seconds (0 when none or past). */
export function cooldownLeft(cooldownUntil: string | null | undefined, now = Date.now()): number {
  if (!cooldownUntil) return 0;
  return Math.max(0, Math.ceil((Date.parse(cooldownUntil) - now) / 1000));
}

export function shortId(id: string): string {
  return id.length > 8 ? id.slice(0, 8) : id;
}
