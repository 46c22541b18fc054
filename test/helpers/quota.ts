/** Budget test helpers: GraphQL documents, micro-USD conversions, ledger and quota-row reads. */
import { expect } from "vitest";
import type { TestApp } from "./test-app";

export const CREATE = `mutation($input: CreateGenerationInput!) {
  createGeneration(input: $input) { id status costUsd estimatedCostUsd error { code message } attempts { attemptNo status costUsd } }
}`;
export const GET = `query($id: ID!) { generation(id: $id) { id status costUsd estimatedCostUsd error { code } attempts { attemptNo status costUsd } } }`;
export const CANCEL = `mutation($id: ID!) { cancelGeneration(id: $id) { id status } }`;
export const QUOTA_FIELDS = `userId tier limitUsd spentUsd reservedUsd remainingUsd requests periodStart periodEnd`;
export const QUOTA = `query($userId: ID) { quota(userId: $userId) { ${QUOTA_FIELDS} } }`;
export const SET_QUOTA = `mutation($userId: ID!, $limitUsd: Float) { setQuota(userId: $userId, limitUsd: $limitUsd) { ${QUOTA_FIELDS} } }`;
export const ESTIMATE = `query($input: CreateGenerationInput!) { estimateCost(input: $input) { estimatedCostUsd } }`;
export const QUOTA_SUB = `subscription { quotaUpdated { type quota { ${QUOTA_FIELDS} } } }`;

export const micros = (usd: number): number => Math.round(usd * 1_000_000);
export const usd = (m: number): number => m / 1_000_000;

export const text = (prompt: string, extra: Record<string, unknown> = {}) => ({ modality: "TEXT", model: "simulated/text", prompt, ...extra });

/** The worst-case estimate of `input`, in micro-USD (from the public estimateCost query). */
export async function estimate(t: TestApp, key: string, input: Record<string, unknown>): Promise<number> {
  const res = await t.gql(key, ESTIMATE, { input });
  expect(res.errors).toBeUndefined();
  return micros(res.data!.estimateCost.estimatedCostUsd);
}

/** Admin: sets the user's budget to exactly `limitMicros`. */
export async function setQuota(t: TestApp, userId: string, limitMicros: number): Promise<void> {
  const res = await t.gql(t.adminKey, SET_QUOTA, { userId, limitUsd: usd(limitMicros) });
  expect(res.errors).toBeUndefined();
  expect(micros(res.data!.setQuota.limitUsd)).toBe(limitMicros);
}

export async function create(t: TestApp, key: string, input: Record<string, unknown>) {
  const res = await t.gql(key, CREATE, { input });
  expect(res.errors).toBeUndefined();
  return res.data!.createGeneration as { id: string; status: string; costUsd: number | null; estimatedCostUsd: number; error: { code: string } | null; attempts: { attemptNo: number; status: string; costUsd: number }[] };
}

export async function quota(t: TestApp, key: string, userId?: string) {
  const res = await t.gql(key, QUOTA, { userId });
  expect(res.errors).toBeUndefined();
  return res.data!.quota as { userId: string; tier: string; limitUsd: number; spentUsd: number; reservedUsd: number; remainingUsd: number; requests: number; periodStart: string; periodEnd: string };
}

/** The generation's ledger entries by attempt then kind: [kind, attempt_no, amount_micros]. */
export async function ledger(t: TestApp, generationId: string): Promise<[string, number, number][]> {
  const rows = await t.app.ds.query(`SELECT kind, attempt_no, amount_micros FROM spend_ledger WHERE generation_id = $1 ORDER BY attempt_no, kind`, [generationId]);
  return rows.map((r: { kind: string; attempt_no: number; amount_micros: string }) => [r.kind, r.attempt_no, Number(r.amount_micros)]);
}

/** The user's quota_periods rows as numbers, oldest period first. */
export async function periods(t: TestApp, userId: string) {
  const rows = await t.app.ds.query(`SELECT * FROM quota_periods WHERE user_id = $1 ORDER BY period_start`, [userId]);
  return rows.map((r: Record<string, any>) => ({
    periodStart: (r.period_start as Date).toISOString(), limit: Number(r.limit_micros), spent: Number(r.spent_micros),
    reserved: Number(r.reserved_micros), requests: r.requests as number, warned: r.warned_at !== null,
  }));
}

/** Bounded poll: resolves with `fn()`'s value once `ok` holds; fails after `timeoutMs`. */
export async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`condition not met after ${timeoutMs} ms; last value: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Polls the generation's row until it is terminal and its attempts are all settled. */
export function settled(t: TestApp, id: string, timeoutMs = 20_000) {
  return until(
    async () => {
      const [g] = await t.app.ds.query(`SELECT status, error_code, cost_micros, reserved_micros, quota_period_start FROM generations WHERE id = $1`, [id]);
      const [{ n }] = await t.app.ds.query(`SELECT count(*)::int AS n FROM generation_attempts WHERE generation_id = $1 AND status = 'RUNNING'`, [id]);
      return { ...g, running: n as number };
    },
    (g) => ["SUCCEEDED", "FAILED", "CANCELLED"].includes(g.status) && g.running === 0,
    timeoutMs,
  );
}
