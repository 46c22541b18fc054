/**
 * Redis commands per generation, by stage: MONITOR on a plain TCP socket (monitorLines in test/helpers/redis-monitor.ts
 * says why not ioredis's monitor()), every line that mentions the run's key prefix, classified.
 *
 * Two counts per stage:
 *   sent     — commands a client sent (a Lua script, EVALSHA, is one; MULTI/EXEC and what they wrap each count): round trips' worth
 *   executed — every command Redis ran, including those inside scripts (what INFO's total_commands_processed counts)
 *
 * MULTI and EXEC name no key: they count (sent and executed) in the stage of the first command of
 * theirs that names the prefix (MONITOR prints MULTI when sent, the queued commands and EXEC when run).
 *
 * Classification (first match wins). A command inside a script (`[0 lua]`) belongs to the script
 * that ran it (MONITOR prints a script's EVALSHA before its commands, and scripts are atomic).
 *   BullMQ scripts, by their SHA-1 (BullMQ's own script texts), on the generations queue:
 *     addStandardJob/addPrioritizedJob/addDelayedJob/addParentJob → enqueue
 *     moveToActive                                  → pickup   (BZPOPMIN on generations:marker too)
 *     moveToFinished/moveToDelayed/retryJob/…       → finish   (moveToFinished also fetches the next job)
 *     anything else, and every other queue (webhooks, maintenance, analytics) → other
 *   by key (after the prefix):
 *     rl:*                                          → rateLimits (per tier/window and per-key limiters)
 *     cb:*                                          → breakers
 *     kp:*, krpm:*, ktpm:*                          → keyPool (leases, per-key RPM/TPM)
 *     inflight:<uuid>[:parked]                      → fairness (per-user leases, parking)
 *     seq:/text:/slog:/run:/streams:open, PUBLISH   → events (generation events and every other topic)
 *     queue-control*, queue-rate:*, plain reads of the generations queue (positions) → queueControl
 *     cache:*, inflight:<fingerprint>, inproc:*     → admission (exact cache, coalescing, in-process runs)
 *     anything else (sim-faults, health, catalog, anomaly locks, …) → other
 */
import { monitorLines } from "../test/helpers/redis-monitor";
import { createHash } from "node:crypto";

export const STAGES = ["admission", "enqueue", "pickup", "rateLimits", "breakers", "keyPool", "fairness", "events", "queueControl", "finish", "other"] as const;
export type Stage = (typeof STAGES)[number];

function bullmqShas(): Map<string, string> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const scripts = require("bullmq/dist/cjs/scripts") as Record<string, { name: string; content: string }>;
  return new Map(Object.values(scripts).map((s) => [createHash("sha1").update(s.content).digest("hex"), s.name]));
}

function bullmqStage(name: string): Stage {
  if (/^add(Standard|Prioritized|Delayed|Parent)Job$/.test(name)) return "enqueue";
  if (name === "moveToActive") return "pickup";
  if (/^(moveToFinished|moveToDelayed|retryJob|moveJobFromActiveToWait|releaseLock)$/.test(name)) return "finish";
  return "other";
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(:parked)?$/;

function keyStage(cmd: string, rest: string, queue: string): Stage {
  if (cmd === "publish") return "events";
  if (rest.startsWith("rl:")) return "rateLimits";
  if (rest.startsWith("cb:")) return "breakers";
  if (rest.startsWith("kp:") || rest.startsWith("krpm:") || rest.startsWith("ktpm:")) return "keyPool";
  if (rest.startsWith("inflight:")) return UUID.test(rest.slice(9)) ? "fairness" : "admission";
  if (/^(seq|text|slog|run):/.test(rest) || rest === "streams:open") return "events";
  if (rest.startsWith("queue-control") || rest.startsWith("queue-rate:")) return "queueControl";
  if (rest.startsWith("cache:") || rest.startsWith("inproc:")) return "admission";
  if (rest.startsWith(`${queue}:`)) return cmd === "bzpopmin" && rest === `${queue}:marker` ? "pickup" : "queueControl";
  return "other";
}

export interface StageCounts {
  sent: Record<Stage, number>;
  executed: Record<Stage, number>;
}

export interface StageMonitor {
  /** Counts since start (or the last reset). */
  counts(): StageCounts;
  reset(): void;
  close(): void;
}

const zero = () => Object.fromEntries(STAGES.map((s) => [s, 0])) as Record<Stage, number>;

/** Starts counting the commands that mention `prefix + ":"`; `queue` is the BullMQ queue whose scripts are classified (others: other). */
export async function monitorStages(url: string, prefix: string, queue = "generations"): Promise<StageMonitor> {
  const shas = bullmqShas();
  const needle = `${prefix}:`;
  let counts: StageCounts = { sent: zero(), executed: zero() };
  let script: Stage | undefined; // the stage of the script whose commands follow
  const multi = new Map<string, Stage | "pending">(); // client address → its open transaction's stage
  const count = (stage: Stage, sent: boolean) => {
    counts.executed[stage]++;
    if (sent) counts.sent[stage]++;
  };
  const line = (l: string) => {
    // 1700000000.123456 [0 127.0.0.1:1234] "evalsha" "…" "3" "key" …  |  … [0 lua] "incr" "key"
    const b = l.indexOf("[");
    const e = l.indexOf("] ", b);
    if (b < 0 || e < 0) return;
    const fromLua = l.slice(b, e).endsWith(" lua");
    const args = l.slice(e + 2);
    const q = args.indexOf('"', 1);
    const cmd = args.slice(1, q).toLowerCase();
    if (!fromLua) script = undefined;
    const client = l.slice(b + 1, e);
    if (!fromLua && cmd === "multi") return void multi.set(client, "pending");
    if (!fromLua && (cmd === "exec" || cmd === "discard")) {
      const open = multi.get(client);
      multi.delete(client);
      if (open && open !== "pending") count(open, true);
      return;
    }
    if (!l.includes(needle)) return;
    const at = args.indexOf(needle);
    // Braces dropped: a Redis Cluster deployment's hash tags ({…}) do not change the stage.
    const rest = args.slice(at + needle.length, args.indexOf('"', at)).replace(/[{}]/g, "");
    let stage: Stage;
    if (fromLua && script) stage = script;
    else if (!fromLua && (cmd === "evalsha" || cmd === "eval")) {
      const sha = args.slice(q + 3, args.indexOf('"', q + 3));
      const name = shas.get(sha);
      stage = name ? (rest.startsWith(`${queue}:`) ? bullmqStage(name) : "other") : keyStage(cmd, rest, queue);
      script = stage;
    } else stage = keyStage(cmd, rest, queue);
    if (!fromLua && multi.get(client) === "pending") {
      multi.set(client, stage);
      count(stage, true); // its MULTI
    }
    count(stage, !fromLua);
  };
  const m = await monitorLines(url, line);
  return {
    counts: () => ({ sent: { ...counts.sent }, executed: { ...counts.executed } }),
    reset: () => (counts = { sent: zero(), executed: zero() }),
    close: () => m.close(),
  };
}

/** Per-unit figures (2 decimals) and totals. */
export function perUnit(c: StageCounts, units: number) {
  const r = (x: number) => Math.round((x / units) * 100) / 100;
  const each = (m: Record<Stage, number>) => Object.fromEntries(STAGES.filter((s) => m[s] > 0).map((s) => [s, r(m[s])]));
  const sum = (m: Record<Stage, number>) => STAGES.reduce((a, s) => a + m[s], 0);
  return { sent: r(sum(c.sent)), executed: r(sum(c.executed)), sentByStage: each(c.sent), executedByStage: each(c.executed) };
}
