/**
 * One chaos run: a seeded workload of generations (streamed text with provider latency, text
 * whose stream is cut mid-answer, images, embeddings) with a subscriber on every one, a
 * seeded timeline of faults (worker SIGKILLs, Redis data loss, a Postgres connection purge),
 * then the invariants read back from Postgres. Used by test/chaos/chaos.e2e-spec.ts (a few
 * hundred generations) and bench/chaos.ts (thousands). Same seed → same workload and timeline.
 */
import { Client } from "pg";
import { Redis } from "ioredis";
import { Cluster, type ChaosRedis } from "./cluster";
import { redisLoss, SocketPool, Subscriber, type SubscriberResult } from "./subscriber";

/** mulberry32: a tiny seeded PRNG (floats in [0, 1)). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type Kind = "text-stream" | "text-cut" | "image" | "embedding";
export type FaultKind = "kill-worker" | "lose-redis" | "purge-postgres";

export interface ScenarioOptions {
  seed: number;
  /** Generations to create. */
  n: number;
  /** Open-loop creation rate, per second. */
  ratePerSec: number;
  /** createGeneration calls in flight at most. */
  maxInFlightCreates: number;
  users: number;
  /** Share of each kind (normalised). */
  mix: Record<Kind, number>;
  /** Provider latency ranges in ms, by kind. */
  latencyMs: Record<Kind, [number, number]>;
  /** The faults: at a time after the first create (ms), in order. */
  faults: { atMs: number; kind: FaultKind }[];
  /** Kill a worker every this many ms during the load (0: only the listed faults). */
  killEveryMs: number;
  /**
   * No worker kill (scheduled or periodic) within this long after the Redis fault, unless its repair
   * was already observed: a worker that starts re-creates its schedulers, which would hide a cluster
   * that cannot repair itself.
   */
  quietAfterRedisMs: number;
  /** A killed worker's replacement: wait for it before the next fault (true) or start it in the background. */
  awaitRespawn: boolean;
  /**
   * A kill needs more than `keepReadyWorkers` workers ready (so some capacity is left while the
   * replacement starts, which can take tens of seconds on a loaded machine); it waits up to this
   * long for them (0: the kill is skipped, and counted).
   */
  waitForReadyWorkerMs: number;
  keepReadyWorkers: number;
  /** After the load: how long every generation has to reach a terminal state. */
  settleTimeoutMs: number;
  /** After that: how long subscribers have to see their terminal state. */
  subscriberGraceMs: number;
  redis: ChaosRedis;
  apiNodes: number;
  workers: number;
  /** Environment of every switchboard process. */
  env: Record<string, string>;
  log?: (msg: string) => void;
}

interface Gen {
  index: number;
  kind: Kind;
  user: number;
  createNode: number;
  id?: string;
  createdAtMs?: number;
  errors: string[];
  sub?: Subscriber;
}

export interface FaultRecord {
  kind: FaultKind;
  atMs: number;
  detail: string;
}

export interface ChaosReport {
  seed: number;
  durationMs: number;
  counts: {
    generations: number;
    accepted: number;
    byKind: Record<string, number>;
    byStatus: Record<string, number>;
    createErrors: Record<string, number>;
    attemptsByOutcome: Record<string, number>;
    subscriberReconnects: number;
    terminalBySnapshot: number;
    /** Kills not made because too few workers were ready (see `keepReadyWorkers`). */
    killsSkipped: number;
  };
  faults: FaultRecord[];
  figures: {
    /** Accepted generations not terminal after the settle timeout, plus creates never accepted. */
    lost: number;
    /** Generations charged for more than one successful answer, or whose charges exceed their attempts' cost. */
    doubleCharged: number;
    /** Upstream calls made again because a worker died mid-call (at-least-once; counted, allowed). */
    duplicateUpstreamCalls: number;
    upstreamCalls: number;
    /** Subscribers whose rebuilt text equals the stored output, of those on SUCCEEDED generations. */
    streamsWhole: number;
    streamsChecked: number;
    subscribersWithoutTerminal: number;
    /** Events whose seq jumped forward after Redis lost its data (allowed: never backwards). */
    seqForwardJumpsAfterRedisLoss: number;
    /**
     * From the Redis fault until it was repaired: every generation in flight then is terminal or has
     * its BullMQ job again (null: not within the settle timeout).
     */
    recoveryMsAfterRedisFault: number | null;
    /** From the Redis fault until every generation in flight then is terminal (null: not within the settle timeout). */
    drainMsAfterRedisFault: number | null;
    inFlightAtRedisFault: number;
  };
  /** Readable failures, one line each, by assertion. Empty lists mean the invariant held. */
  failures: {
    notTerminal: string[];
    noTerminalEvent: string[];
    textMismatch: string[];
    seq: string[];
    order: string[];
    ledger: string[];
    doubleCharged: string[];
    quotasVerify: string[];
    reservations: string[];
    createRejected: string[];
    /** Processes that exited without being killed by the suite (with the tail of their output). */
    crashes: string[];
  };
}

const TERMINAL = ["SUCCEEDED", "FAILED", "CANCELLED"];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const short = (id?: string) => (id ? id.slice(0, 8) : "(none)");

const CREATE = `mutation($input: CreateGenerationInput!) { createGeneration(input: $input) { id status } }`;

function input(g: Gen, rnd: () => number, o: ScenarioOptions, seed: number): Record<string, unknown> {
  const [lo, hi] = o.latencyMs[g.kind];
  const latencyMs = Math.round(lo + rnd() * (hi - lo));
  const base = { idempotencyKey: `chaos-${seed}-${g.index}`, prompt: `chaos ${seed} #${g.index}: ${g.kind}` };
  switch (g.kind) {
    case "text-stream":
      // A handful of paced steps: every step is one DELTA (a few tokens each), so the event volume stays modest.
      return { ...base, modality: "TEXT", model: "simulated/text", text: { maxTokens: 30 + Math.floor(rnd() * 50) }, params: { simulate: { latencyMs, steps: 6 + Math.floor(rnd() * 10) } } };
    case "text-cut":
      // The simulated provider cuts the stream halfway on about half the attempts (decided from the request and attempt number).
      return { ...base, modality: "TEXT", model: "simulated/text", text: { maxTokens: 30 + Math.floor(rnd() * 30) }, params: { simulate: { latencyMs, steps: 6 + Math.floor(rnd() * 10), failWith: "cut_stream", failRate: 0.5 } } };
    case "image":
      return { ...base, modality: "IMAGE", model: "simulated/image", image: { width: 16, height: 16 }, params: { simulate: { latencyMs, steps: 4 } } };
    case "embedding":
      return { ...base, modality: "EMBEDDING", model: "simulated/embedding", params: { simulate: { latencyMs } } };
  }
}

function pickKind(rnd: () => number, mix: Record<Kind, number>): Kind {
  const entries = Object.entries(mix) as [Kind, number][];
  const total = entries.reduce((s, [, w]) => s + w, 0);
  let x = rnd() * total;
  for (const [k, w] of entries) if ((x -= w) < 0) return k;
  return entries[0][0];
}

/** Runs the scenario on a fresh cluster and returns its report; the cluster is always stopped. */
export async function runScenario(o: ScenarioOptions): Promise<ChaosReport> {
  const log = o.log ?? (() => undefined);
  const rnd = prng(o.seed);
  const prefix = `sbchaos_${o.seed}_${Date.now().toString(36)}`;
  const cluster = await Cluster.start({ redis: o.redis, apiNodes: o.apiNodes, workers: o.workers, env: o.env }, prefix);
  let pool: SocketPool | undefined;
  const subs: Subscriber[] = [];
  redisLoss.happened = false;
  redisLoss.forwardJumps = 0;
  try {
    log(`cluster up: ${cluster.apis.map((p) => `${p.name}:${p.port}`).join(" ")} ${cluster.workers.map((p) => p.name).join(" ")}; db ${cluster.db.name}; redis ${cluster.redisUrl} prefix ${prefix}`);
    const keys: string[] = [];
    for (let u = 0; u < o.users; u++) keys.push(await cluster.createUser(`chaos-${u}-${prefix}@test.local`, "enterprise"));
    const apiUrls = cluster.apis.map((p) => `http://127.0.0.1:${p.port}/graphql`);
    pool = new SocketPool(cluster.apis.map((p) => `ws://127.0.0.1:${p.port}/graphql`), (u) => keys[u], 3);

    // The whole workload and fault timeline come from the seed, before anything runs.
    const gens: Gen[] = Array.from({ length: o.n }, (_, index) => ({
      index, kind: pickKind(rnd, o.mix), user: Math.floor(rnd() * o.users), createNode: Math.floor(rnd() * o.apiNodes), errors: [],
    }));
    const inputs = gens.map((g) => input(g, rnd, o, o.seed));
    const subNodes = gens.map(() => rnd());
    const faultRnd = prng(o.seed ^ 0x5eed);

    const faults: FaultRecord[] = [];
    const createErrors: Record<string, number> = {};
    const t0 = Date.now();
    const now = () => Date.now() - t0;
    let redisFaultAt: number | null = null;
    let inFlightAtRedisFault: string[] = [];
    const respawns: Promise<unknown>[] = [];

    const db = new Client({ connectionString: cluster.db.url });
    db.on("error", () => undefined); // our own monitoring connection is terminated by the purge too
    let dbc: Client | undefined = db;
    await db.connect();
    const query = async (sql: string, params: unknown[] = []) => {
      for (let i = 0; ; i++) {
        try {
          if (!dbc) {
            dbc = new Client({ connectionString: cluster.db.url });
            dbc.on("error", () => undefined);
            await dbc.connect();
          }
          return (await dbc.query(sql, params)).rows;
        } catch (e) {
          await dbc?.end().catch(() => undefined);
          dbc = undefined;
          if (i >= 5) throw e;
          await sleep(200);
        }
      }
    };

    let recoveryMs: number | null = null;
    let drainMs: number | null = null;
    let killsSkipped = 0;
    const killOne = async (why: string) => {
      while (redisFaultAt !== null && recoveryMs === null && now() - redisFaultAt < o.quietAfterRedisMs) await sleep(100);
      const waitUntil = Date.now() + o.waitForReadyWorkerMs;
      while (cluster.liveWorkers().length <= o.keepReadyWorkers && Date.now() < waitUntil) await sleep(200);
      const live = cluster.liveWorkers();
      if (live.length <= o.keepReadyWorkers) {
        killsSkipped++;
        log(`${now()} ms: ${why} kill skipped, ${live.length} worker(s) ready`);
        return;
      }
      const w = live[Math.floor(faultRnd() * live.length)];
      await cluster.killWorker(w);
      faults.push({ kind: "kill-worker", atMs: now(), detail: `${why}: SIGKILL ${w.name}` });
      log(`${now()} ms: SIGKILL ${w.name}`);
      const replacement = cluster.spawnWorker().then((p) => log(`${now()} ms: ${p.name} ready`), (e: Error) => log(`respawn failed: ${e.message}`));
      if (o.awaitRespawn) await replacement;
      else respawns.push(replacement);
    };

    const runFault = async (kind: FaultKind) => {
      if (kind === "kill-worker") return killOne("scheduled");
      if (kind === "lose-redis") {
        const rows = await query(`SELECT id FROM generations WHERE status IN ('QUEUED','RUNNING')`);
        inFlightAtRedisFault = rows.map((r: { id: string }) => r.id);
        redisFaultAt = now();
        redisLoss.happened = true;
        await cluster.loseRedis();
        faults.push({ kind, atMs: redisFaultAt, detail: `${o.redis.describe}, ${inFlightAtRedisFault.length} generations in flight` });
        log(`${redisFaultAt} ms: ${o.redis.describe} (${inFlightAtRedisFault.length} in flight)`);
        return;
      }
      const n = await cluster.purgePostgres();
      faults.push({ kind, atMs: now(), detail: `pg_terminate_backend on ${n} connections to ${cluster.db.name}` });
      log(`${now()} ms: terminated ${n} Postgres connections`);
    };

    // Faults: the listed ones in order, plus a kill every killEveryMs while the load runs.
    let loadDone = false;
    let supervising = true;
    const supervisor = (async () => {
      // A crashed process is restarted as a supervisor would; the crash itself is still reported.
      while (supervising) {
        await sleep(500);
        const names = await cluster.restartCrashed().catch((e: Error) => [`restart failed: ${e.message}`]);
        for (const n of names) log(`${now()} ms: restarted crashed ${n}`);
      }
    })();
    const listed = (async () => {
      for (const f of o.faults) {
        const wait = f.atMs - now();
        if (wait > 0) await sleep(wait);
        await runFault(f.kind);
      }
    })();
    const periodic = (async () => {
      if (!o.killEveryMs) return;
      while (!loadDone) {
        await sleep(o.killEveryMs);
        if (loadDone) break;
        if (redisFaultAt !== null && now() - redisFaultAt < o.quietAfterRedisMs) continue;
        await killOne("periodic");
      }
    })();

    // Redis-fault recovery: repaired once every generation in flight at the fault is terminal or
    // has its BullMQ job back (the sweep re-enqueued it); drained once all of them are terminal.
    const redis = new Redis(cluster.redisUrl, { maxRetriesPerRequest: null });
    redis.on("error", () => undefined);
    const recovery = (async () => {
      while (redisFaultAt === null) {
        if (loadDone && !o.faults.some((f) => f.kind === "lose-redis")) return;
        await sleep(100);
      }
      const deadline = Date.now() + o.settleTimeoutMs + o.n * 20;
      while (Date.now() < deadline) {
        const open: { id: string }[] = inFlightAtRedisFault.length
          ? await query(`SELECT id FROM generations WHERE id = ANY($1::uuid[]) AND status IN ('QUEUED','RUNNING')`, [inFlightAtRedisFault])
          : [];
        if (recoveryMs === null) {
          const exists = open.length ? await Promise.all(open.map((g) => redis.exists(`${prefix}:generations:${g.id}`))) : [];
          if (exists.every((e) => e === 1)) recoveryMs = now() - redisFaultAt;
        }
        if (open.length === 0) {
          drainMs = now() - redisFaultAt;
          return;
        }
        await sleep(250);
      }
    })();

    // The load: open loop at ratePerSec, at most maxInFlightCreates at once.
    let inFlight = 0;
    const creates: Promise<void>[] = [];
    for (const g of gens) {
      const due = (g.index * 1000) / o.ratePerSec - now();
      if (due > 0) await sleep(due);
      while (inFlight >= o.maxInFlightCreates) await sleep(5);
      inFlight++;
      creates.push(
        (async () => {
          for (let attempt = 1; attempt <= 8; attempt++) {
            let code = "";
            try {
              const node = attempt === 1 ? g.createNode : (g.createNode + attempt) % o.apiNodes; // a retry may go to the other node
              const res = await fetch(apiUrls[node], {
                method: "POST",
                headers: { "content-type": "application/json", authorization: `Bearer ${keys[g.user]}` },
                body: JSON.stringify({ query: CREATE, variables: { input: inputs[g.index] } }),
                signal: AbortSignal.timeout(30_000),
              });
              const body = (await res.json()) as { data?: { createGeneration?: { id: string } }; errors?: { message: string; extensions?: { code?: string } }[] };
              if (body.data?.createGeneration?.id) {
                g.id = body.data.createGeneration.id;
                g.createdAtMs = now();
                break;
              }
              code = body.errors?.[0]?.extensions?.code ?? `HTTP_${res.status}`;
              g.errors.push(`try ${attempt} on api-${node + 1}: ${code}: ${body.errors?.[0]?.message ?? "no data"}`);
            } catch (e) {
              code = "NETWORK";
              g.errors.push(`try ${attempt}: ${(e as Error).message}`);
            }
            createErrors[code] = (createErrors[code] ?? 0) + 1;
            await sleep(250 * attempt); // the same idempotency key: a retry never creates a second generation
          }
          if (g.id) {
            const sub = new Subscriber(g.id, g.index, pool!, g.user, () => Math.floor(subNodes[g.index] * o.apiNodes) % o.apiNodes, now);
            g.sub = sub;
            subs.push(sub);
            sub.start();
          }
        })().finally(() => inFlight--),
      );
    }
    await Promise.all(creates);
    const loadMs = now();
    log(`${loadMs} ms: load done, ${gens.filter((g) => g.id).length}/${o.n} accepted`);
    await listed;
    loadDone = true;
    await periodic;
    await Promise.all(respawns);

    // Settle: every accepted generation terminal (bounded), then the subscribers' grace.
    const ids = gens.filter((g) => g.id).map((g) => g.id!);
    const settleDeadline = Date.now() + o.settleTimeoutMs;
    for (;;) {
      const [{ n }] = await query(`SELECT count(*)::int AS n FROM generations WHERE id = ANY($1::uuid[]) AND status NOT IN ('SUCCEEDED','FAILED','CANCELLED')`, [ids]);
      if (n === 0 || Date.now() > settleDeadline) {
        log(`${now()} ms: ${n} generations not terminal`);
        break;
      }
      await sleep(500);
    }
    await Promise.race([Promise.all(subs.map((s) => s.done)), sleep(o.subscriberGraceMs)]);
    for (const s of subs) s.stop();
    await recovery;
    supervising = false;
    await supervisor;
    redis.disconnect();
    const durationMs = now();

    // Read everything back from Postgres.
    const rows: { id: string; status: string; modality: string; error_code: string | null; text: string | null; cost: string | null; run_attempt: number }[] = await query(
      `SELECT id, status, modality, error_code, output->>'text' AS text, cost_micros AS cost, run_attempt FROM generations`,
    );
    const attempts: { generation_id: string; attempt_no: number; status: string; error_kind: string | null; cost: string }[] = await query(
      `SELECT generation_id, attempt_no, status, error_kind, cost_micros AS cost FROM generation_attempts`,
    );
    const ledgerRows: { generation_id: string; kind: string; amount: string }[] = await query(
      `SELECT generation_id, kind, SUM(amount_micros) AS amount FROM spend_ledger GROUP BY 1, 2`,
    );
    const [{ reserved }] = await query(`SELECT COALESCE(SUM(reserved_micros), 0)::bigint AS reserved FROM quota_periods`);
    const verify = await cluster.cli(["quotas", "verify"]);
    await dbc?.end().catch(() => undefined);

    const byId = new Map(rows.map((r) => [r.id, r]));
    const attemptsBy = new Map<string, typeof attempts>();
    for (const a of attempts) (attemptsBy.get(a.generation_id) ?? attemptsBy.set(a.generation_id, []).get(a.generation_id)!).push(a);
    const ledgerBy = new Map<string, Record<string, number>>();
    for (const l of ledgerRows) (ledgerBy.get(l.generation_id) ?? ledgerBy.set(l.generation_id, {}).get(l.generation_id)!)[l.kind] = Number(l.amount);

    const f: ChaosReport["failures"] = {
      notTerminal: [], noTerminalEvent: [], textMismatch: [], seq: [], order: [], ledger: [], doubleCharged: [], quotasVerify: [], reservations: [], createRejected: [], crashes: [],
    };
    for (const p of cluster.crashes()) {
      const when = (p.exitedAt ?? Date.now()) - t0;
      const before = [...faults].reverse().find((x) => x.atMs <= when);
      f.crashes.push(`${p.name} exited (${String(p.exitStatus)}) at ${(when / 1000).toFixed(1)} s${before ? `, ${((when - before.atMs) / 1000).toFixed(1)} s after ${before.kind}` : ""}; its last output:\n${p.tail(1500)}`);
    }
    const who = (g: Gen, r?: SubscriberResult) =>
      `gen ${short(g.id)} (#${g.index} ${g.kind}, user ${g.user}, created on api-${g.createNode + 1}${r ? `, subscriber on api-${(Math.floor(subNodes[g.index] * o.apiNodes) % o.apiNodes) + 1}, ${r.sessions} subscription(s)` : ""})`;
    const attemptsText = (id: string) =>
      (attemptsBy.get(id) ?? []).sort((a, b) => a.attempt_no - b.attempt_no).map((a) => `${a.attempt_no}:${a.status}${a.error_kind ? `/${a.error_kind}` : ""}`).join(" ");

    let doubleCharged = 0;
    let duplicateCalls = 0;
    let streamsWhole = 0;
    let streamsChecked = 0;
    let withoutTerminal = 0;
    let reconnects = 0;
    let bySnapshot = 0;
    const byStatus: Record<string, number> = {};
    const byKind: Record<string, number> = {};
    const attemptsByOutcome: Record<string, number> = {};
    for (const a of attempts) {
      const k = `${a.status}${a.error_kind ? `/${a.error_kind}` : ""}`;
      attemptsByOutcome[k] = (attemptsByOutcome[k] ?? 0) + 1;
    }

    for (const g of gens) {
      byKind[g.kind] = (byKind[g.kind] ?? 0) + 1;
      if (!g.id) {
        f.createRejected.push(`#${g.index} ${g.kind} (user ${g.user}): never accepted after ${g.errors.length} tries: ${g.errors.slice(-3).join(" | ")}`);
        continue;
      }
      if (g.errors.some((e) => /INTERNAL_SERVER_ERROR|deadlock/i.test(e))) {
        f.createRejected.push(`${who(g)}: accepted only after an internal error: ${g.errors.filter((e) => /INTERNAL_SERVER_ERROR|deadlock/i.test(e)).slice(0, 2).join(" | ")}`);
      }
      const row = byId.get(g.id);
      if (!row) {
        f.notTerminal.push(`${who(g)}: accepted but has no row in generations`);
        continue;
      }
      byStatus[row.status] = (byStatus[row.status] ?? 0) + 1;
      if (!TERMINAL.includes(row.status)) {
        f.notTerminal.push(`${who(g)}: still ${row.status} ${Math.round((durationMs - (g.createdAtMs ?? 0)) / 1000)} s after it was accepted; run_attempt ${row.run_attempt}; attempts ${attemptsText(g.id) || "none"}`);
      }
      // Money: the charges in the ledger are the generation's cost, which is the sum of its attempts' costs.
      const led = ledgerBy.get(g.id) ?? {};
      const atts = attemptsBy.get(g.id) ?? [];
      const attemptCost = atts.reduce((s, a) => s + Number(a.cost), 0);
      const charged = led.charge ?? 0;
      if (TERMINAL.includes(row.status)) {
        if (charged !== Number(row.cost ?? 0) || charged !== attemptCost) {
          f.ledger.push(`${who(g)} ${row.status}: ledger charges ${charged} µUSD, generation cost_micros ${row.cost ?? "null"}, attempts' cost ${attemptCost} (${attemptsText(g.id)})`);
        }
        const held = (led.reserve ?? 0) + (led.extend ?? 0) - (led.release ?? 0);
        if (held !== 0) f.reservations.push(`${who(g)} ${row.status}: still holds ${held} µUSD (reserve ${led.reserve ?? 0} + extend ${led.extend ?? 0} − release ${led.release ?? 0})`);
      }
      const succeededAttempts = atts.filter((a) => a.status === "SUCCEEDED").length;
      if (succeededAttempts > 1 || charged > attemptCost) {
        doubleCharged++;
        f.doubleCharged.push(`${who(g)}: ${succeededAttempts} successful attempts charged ${charged} µUSD (${attemptsText(g.id)})`);
      }
      duplicateCalls += atts.filter((a) => a.error_kind === "worker_lost").length + Math.max(0, succeededAttempts - 1);

      const r = g.sub!.result();
      reconnects += Math.max(0, r.sessions - 1);
      if (!r.terminal) {
        withoutTerminal++;
        f.noTerminalEvent.push(`${who(g, r)}: no terminal event (generation is ${row.status}); subscriber's last seq ${r.lastSeq}; events: ${r.log.slice(-12).join(", ")}`);
      } else {
        if (r.terminal.via === "snapshot") bySnapshot++;
        if (r.terminal.type !== row.status) f.noTerminalEvent.push(`${who(g, r)}: terminal ${r.terminal.type} (${r.terminal.via}) but the generation is ${row.status}`);
      }
      r.violations.forEach((v, i) => {
        const when = r.violationAt[i];
        const before = [...faults].reverse().find((x) => x.atMs <= when);
        const ctx = `at ${(when / 1000).toFixed(1)} s${before ? `, ${((when - before.atMs) / 1000).toFixed(1)} s after ${before.kind}` : ""}`;
        (/QUEUED .*after STARTED/.test(v) ? f.order : f.seq).push(`${who(g, r)}: ${v} (${ctx}); events: ${r.log.slice(-12).join(", ")}`);
      });
      if (row.status === "SUCCEEDED" && r.terminal) {
        streamsChecked++;
        const stored = row.text ?? "";
        if (r.text === stored) streamsWhole++;
        else f.textMismatch.push(`${who(g, r)}: rebuilt text ${JSON.stringify(clip(r.text))} (${r.text.length} chars) ≠ stored output ${JSON.stringify(clip(stored))} (${stored.length} chars)${r.text.endsWith(stored) && r.text.length > stored.length ? " — partial text of an earlier attempt, then the whole answer (no RESTARTED before the re-run)" : ""}; attempts ${attemptsText(g.id)}; events: ${r.log.slice(-8).join(", ")}`);
      }
    }
    if (Number(reserved) !== 0) f.reservations.unshift(`quota_periods.reserved_micros sums to ${reserved} µUSD after every generation settled (expected 0)`);
    if (verify.code !== 0 || !/all balances match/.test(verify.out)) f.quotasVerify.push(`switchboard quotas verify exited ${verify.code}:\n${verify.out.trim().split("\n").slice(0, 20).join("\n")}`);

    const lost = f.notTerminal.length + gens.filter((g) => !g.id).length;
    return {
      seed: o.seed,
      durationMs,
      counts: {
        generations: o.n, accepted: ids.length, byKind, byStatus, createErrors, attemptsByOutcome,
        subscriberReconnects: reconnects, terminalBySnapshot: bySnapshot, killsSkipped,
      },
      faults,
      figures: {
        lost, doubleCharged, duplicateUpstreamCalls: duplicateCalls, upstreamCalls: attempts.filter((a) => a.status !== "SKIPPED").length,
        streamsWhole, streamsChecked, subscribersWithoutTerminal: withoutTerminal, seqForwardJumpsAfterRedisLoss: redisLoss.forwardJumps,
        recoveryMsAfterRedisFault: recoveryMs, drainMsAfterRedisFault: drainMs, inFlightAtRedisFault: inFlightAtRedisFault.length,
      },
      failures: f,
    };
  } catch (e) {
    const logs = cluster.all.map((p) => `--- ${p.name} (${p.alive ? "alive" : "exited"}):\n${p.tail(1500)}`).join("\n");
    throw new Error(`${(e as Error).message}\nprocess output:\n${logs}`);
  } finally {
    for (const s of subs) s.stop();
    await pool?.dispose();
    await cluster.stop();
  }
}

function clip(s: string, n = 60): string {
  return s.length <= n ? s : `${s.slice(0, n)}…`;
}
