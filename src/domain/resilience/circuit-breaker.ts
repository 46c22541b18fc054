/**
 * One coherent thing: the breaker's state machine, its Lua scripts and their cluster-safe keys.
 * Circuit breakers shared by every worker. One breaker per provider (or per provider+model
 * where configured); its state lives in a Redis hash and every transition happens inside one
 * Lua script, so two workers never disagree and exactly one caller sees (and reports) each
 * transition. Policies: consecutive failures, and failure rate over a sliding window with a
 * minimum number of calls. OPEN for `resetMs`, then HALF_OPEN admits `halfOpenMax` probe
 * calls: a success closes it, a failure reopens it. Client errors (bad request, content
 * policy, auth, rate limits, cancels) never count: they say nothing about the provider's health.
 * On a Redis Cluster a circuit's hash and its two window sets share a hash tag (the circuit).
 */
import { randomUUID } from "node:crypto";
import type { Cluster, Redis } from "ioredis";
import { hashTag } from "../../common/hash-tag";
import type { DataSource } from "typeorm";
import type { Logger } from "../../observability/logger";
import type { ProviderErrorKind } from "../../providers/contract";
import type { EventBus } from "../../realtime/event-bus";
import { Topic, type CircuitEventPayload } from "../../realtime/topics";
import { CircuitEventStore, type CircuitEventRow } from "./circuit-event.store";

export type CircuitState = "CLOSED" | "OPEN" | "HALF_OPEN";

export interface CircuitPolicy {
  /** Consecutive failures that open the circuit (default 5). */
  failureThreshold: number;
  /** Failure share over the window that opens it (default 0.5: more than half) … */
  failureRate: number;
  /** … once the window holds at least this many calls (default 10). */
  minCalls: number;
  windowMs: number;
  /** How long it stays OPEN before probing (default 30 s). */
  resetMs: number;
  /** Probe calls admitted at once while HALF_OPEN (default 1). */
  halfOpenMax: number;
  /** One breaker per provider+model instead of per provider. */
  perModel: boolean;
}

export type Gate =
  | { allowed: true; probe: boolean; circuit: string }
  | { allowed: false; circuit: string; nextProbeAt: number };

export interface CircuitView {
  provider: string;
  model: string | null;
  state: CircuitState;
  consecutiveFailures: number;
  windowCalls: number;
  windowFailures: number;
  openedAt: Date | null;
  nextProbeAt: Date | null;
  forced: boolean;
}

/** A call's outcome as the breaker counts it. */
export type CallVerdict = "success" | "failure" | "neutral";

export function verdictOf(kind: ProviderErrorKind | "ok"): CallVerdict {
  if (kind === "ok") return "success";
  return kind === "unavailable" || kind === "timeout" || kind === "bad_response" ? "failure" : "neutral";
}

const ALLOW = `
local k, now, halfMax = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2])
local st = redis.call('HGET', k, 'state') or 'CLOSED'
if st == 'CLOSED' then return {1, 0, '', 0} end
if st == 'OPEN' then
  local np = tonumber(redis.call('HGET', k, 'next_probe_at') or '0')
  if redis.call('HGET', k, 'forced') == '1' or now < np then return {0, 0, '', np} end
  redis.call('HSET', k, 'state', 'HALF_OPEN', 'half_inflight', 1, 'half_since', now)
  return {1, 1, 'OPEN>HALF_OPEN', np}
end
-- HALF_OPEN: a limited number of probes; a probe that never reports back frees its slot after 2 reset periods
local inflight = tonumber(redis.call('HGET', k, 'half_inflight') or '0')
local since = tonumber(redis.call('HGET', k, 'half_since') or '0')
local reset = tonumber(redis.call('HGET', k, 'reset_ms') or '30000')
if inflight >= halfMax and now - since > 2 * reset then inflight = 0 end
if inflight < halfMax then
  redis.call('HSET', k, 'half_inflight', inflight + 1, 'half_since', now)
  return {1, 1, '', 0}
end
return {0, 0, '', now + 1000}`;

const RECORD = `
local k, w = KEYS[1], KEYS[2]
local now, verdict, probe = tonumber(ARGV[1]), ARGV[2], ARGV[3] == '1'
local threshold, rate, minCalls, windowMs, resetMs = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local member = ARGV[9]
local st = redis.call('HGET', k, 'state') or 'CLOSED'
redis.call('HSET', k, 'reset_ms', resetMs)
if probe and st == 'HALF_OPEN' then
  local n = tonumber(redis.call('HGET', k, 'half_inflight') or '1')
  if n > 0 then redis.call('HSET', k, 'half_inflight', n - 1) end
end
if verdict == 'neutral' then return {'', 0, 0, 0, 0, st} end
local wf = w .. 'f'
redis.call('ZREMRANGEBYSCORE', w, '-inf', now - windowMs)
redis.call('ZREMRANGEBYSCORE', wf, '-inf', now - windowMs)
redis.call('ZADD', w, now, member)
redis.call('PEXPIRE', w, windowMs + 1000)
if verdict == 'failure' then
  redis.call('ZADD', wf, now, member)
  redis.call('PEXPIRE', wf, windowMs + 1000)
end
local calls = redis.call('ZCARD', w)
local fails = redis.call('ZCARD', wf)
local consecutive = 0
if verdict == 'failure' then consecutive = redis.call('HINCRBY', k, 'consecutive', 1) else redis.call('HSET', k, 'consecutive', 0) end
if st == 'HALF_OPEN' then
  if verdict == 'success' then
    redis.call('HSET', k, 'state', 'CLOSED', 'consecutive', 0, 'half_inflight', 0)
    redis.call('DEL', w, wf)
    return {'HALF_OPEN>CLOSED', 0, 0, 0, 0, 'CLOSED'}
  end
  redis.call('HSET', k, 'state', 'OPEN', 'opened_at', now, 'next_probe_at', now + resetMs, 'half_inflight', 0)
  return {'HALF_OPEN>OPEN', consecutive, calls, fails, now + resetMs, 'OPEN'}
end
if st == 'CLOSED' and verdict == 'failure' then
  local why = ''
  if consecutive >= threshold then why = 'consecutive'
  elseif calls >= minCalls and fails / calls > rate then why = 'rate' end
  if why ~= '' then
    redis.call('HSET', k, 'state', 'OPEN', 'opened_at', now, 'next_probe_at', now + resetMs)
    return {'CLOSED>OPEN:' .. why, consecutive, calls, fails, now + resetMs, 'OPEN'}
  end
end
return {'', consecutive, calls, fails, 0, st}`;

export interface BreakerConfig {
  defaults: CircuitPolicy;
  /** Per-provider overrides (providers file `circuits`). */
  overrides: Record<string, Partial<CircuitPolicy>>;
}

/** What this process last learned of a circuit (from a script's answer or a transition event). */
interface Known {
  state: CircuitState;
  nextProbeAt: number;
  at: number;
}

/** How long a locally known CLOSED state is trusted without asking Redis (transitions also arrive by pub/sub at once). */
const TRUST_CLOSED_MS = 1000;

export class CircuitBreakers {
  private readonly known = new Map<string, Known>();
  private unsubscribe?: () => void;
  private readonly events: CircuitEventStore;

  constructor(
    private readonly redis: Redis,
    ds: DataSource,
    private readonly bus: EventBus,
    private readonly prefix: string,
    private readonly cfg: BreakerConfig,
    private readonly log: Logger,
    /** Observes each state (metrics). */
    private readonly onState: (provider: string, model: string | null, state: CircuitState) => void = () => undefined,
  ) {
    this.events = new CircuitEventStore(ds);
    redis.defineCommand("sbCircuitAllow", { numberOfKeys: 1, lua: ALLOW });
    redis.defineCommand("sbCircuitRecord", { numberOfKeys: 2, lua: RECORD });
  }

  /** Follows every node's transitions, so this process skips an OPEN circuit without asking Redis. */
  async start(): Promise<void> {
    this.unsubscribe = await this.bus.subscribe(Topic.CIRCUIT_STATE_CHANGED, undefined, (e) => {
      const circuit = e.model ? `${e.provider}|${e.model}` : e.provider;
      this.known.set(circuit, { state: e.to, nextProbeAt: e.nextProbeAt ? Date.parse(e.nextProbeAt) : 0, at: Date.now() });
      this.onState(e.provider, e.model, e.to); // every process's gauge follows every transition
    });
  }

  stop(): void {
    this.unsubscribe?.();
  }

  policy(provider: string): CircuitPolicy {
    return { ...this.cfg.defaults, ...this.cfg.overrides[provider] };
  }

  /** The breaker a call to provider/model goes through: "openai" or "openai|gpt-4o". */
  circuitOf(provider: string, model: string): string {
    return this.policy(provider).perModel ? `${provider}|${model}` : provider;
  }

  private key(circuit: string): string {
    return `${this.prefix}:cb:${hashTag(this.redis, circuit)}`;
  }

  /** May a call go upstream now? HALF_OPEN admits probes; the OPEN→HALF_OPEN transition is reported here. */
  async allow(provider: string, model: string): Promise<Gate> {
    const circuit = this.circuitOf(provider, model);
    const p = this.policy(provider);
    // Fast paths, no Redis: a circuit known CLOSED a moment ago, or known OPEN (not forced-reset) before its probe time.
    const k = this.known.get(circuit);
    const now = Date.now();
    if (k?.state === "CLOSED" && now - k.at < TRUST_CLOSED_MS) return { allowed: true, probe: false, circuit };
    if (k?.state === "OPEN" && k.nextProbeAt > now && now - k.at < p.resetMs) return { allowed: false, circuit, nextProbeAt: k.nextProbeAt };
    const [ok, probe, transition, np] = (await (this.redis as unknown as { sbCircuitAllow(k: string, ...a: (string | number)[]): Promise<[number, number, string, number]> }).sbCircuitAllow(
      this.key(circuit), Date.now(), p.halfOpenMax,
    ));
    this.known.set(circuit, { state: ok === 1 ? (probe === 1 ? "HALF_OPEN" : "CLOSED") : "OPEN", nextProbeAt: Number(np), at: now });
    if (transition) await this.transitioned(circuit, "OPEN", "HALF_OPEN", "reset timeout passed: probing", 0, 0, 0, null);
    return ok === 1 ? { allowed: true, probe: probe === 1, circuit } : { allowed: false, circuit, nextProbeAt: Number(np) };
  }

  /** Counts a call's outcome; may open or close the circuit (reported once, by the caller that caused it). */
  async record(gate: Extract<Gate, { allowed: true }>, provider: string, verdict: CallVerdict): Promise<void> {
    const p = this.policy(provider);
    const k = this.key(gate.circuit);
    const [transition, consecutive, calls, fails, np, state] = (await (this.redis as unknown as { sbCircuitRecord(k: string, w: string, ...a: (string | number)[]): Promise<[string, number, number, number, number, CircuitState]> }).sbCircuitRecord(
      k, `${k}:w`, Date.now(), verdict, gate.probe ? "1" : "0", p.failureThreshold, p.failureRate, p.minCalls, p.windowMs, p.resetMs, randomUUID(),
    ));
    if (state) this.known.set(gate.circuit, { state, nextProbeAt: Number(np) || 0, at: Date.now() });
    if (!transition) return;
    const [edge, why] = transition.split(":");
    const [from, to] = edge.split(">") as [CircuitState, CircuitState];
    const reason =
      why === "consecutive" ? `${consecutive} consecutive failures (threshold ${p.failureThreshold})`
      : why === "rate" ? `${fails} of ${calls} calls failed in the last ${Math.round(p.windowMs / 1000)} s (over ${Math.round(p.failureRate * 100)}%)`
      : to === "CLOSED" ? "a probe call succeeded" : "a probe call failed";
    await this.transitioned(gate.circuit, from, to, reason, consecutive, calls, fails, np ? Number(np) : null);
  }

  /** Admin: open a circuit until reset (no automatic probing). */
  async forceOpen(provider: string, model: string | null): Promise<CircuitView> {
    const circuit = model ? `${provider}|${model}` : provider;
    const before = await this.view(circuit);
    await this.redis.hset(this.key(circuit), { state: "OPEN", forced: "1", opened_at: Date.now(), next_probe_at: 0 });
    this.known.delete(circuit);
    await this.transitioned(circuit, before.state, "OPEN", "forced open by an admin", before.consecutiveFailures, before.windowCalls, before.windowFailures, null);
    return this.view(circuit);
  }

  /** Admin: close a circuit and forget its failures. */
  async reset(provider: string, model: string | null): Promise<CircuitView> {
    const circuit = model ? `${provider}|${model}` : provider;
    const before = await this.view(circuit);
    await this.redis.del(this.key(circuit), `${this.key(circuit)}:w`, `${this.key(circuit)}:wf`);
    this.known.delete(circuit);
    await this.transitioned(circuit, before.state, "CLOSED", "reset by an admin", 0, 0, 0, null);
    return this.view(circuit);
  }

  /** Every circuit of a provider that has state (a provider-wide one is always listed). */
  async list(provider: string): Promise<CircuitView[]> {
    const keys: string[] = [];
    // The circuit inside its hash tag on a cluster: `<prefix>:cb:{openai|gpt-4o}`.
    const head = `${this.prefix}:cb:${this.redis.isCluster ? "{" : ""}`;
    const tail = this.redis.isCluster ? "}" : "";
    // SCAN walks one node: on a cluster, every master.
    const nodes = this.redis.isCluster ? (this.redis as unknown as Cluster).nodes("master") : [this.redis];
    for (const node of nodes) {
      let cursor = "0";
      do {
        const [next, found] = await node.scan(cursor, "MATCH", `${head}${provider}|*${tail}`, "COUNT", 200);
        cursor = next;
        keys.push(...found.filter((k) => !k.endsWith(":w") && !k.endsWith(":wf")));
      } while (cursor !== "0");
    }
    const circuits = [provider, ...keys.map((k) => k.slice(head.length, k.length - tail.length)).sort()];
    return Promise.all(circuits.map((c) => this.view(c)));
  }

  /** The stored transitions, newest first (of one provider, or all). */
  recentEvents(provider: string | null, first: number): Promise<CircuitEventRow[]> {
    return this.events.recent(provider, first);
  }

  async view(circuit: string): Promise<CircuitView> {
    const k = this.key(circuit);
    const now = Date.now();
    const since = now - this.policy(circuit.split("|")[0]).windowMs;
    const [h, calls, fails] = await Promise.all([this.redis.hgetall(k), this.redis.zcount(`${k}:w`, since, "+inf"), this.redis.zcount(`${k}:wf`, since, "+inf")]);
    const [provider, model] = circuit.split("|");
    const state = (h.state as CircuitState) ?? "CLOSED";
    return {
      provider, model: model ?? null, state,
      consecutiveFailures: Number(h.consecutive ?? 0),
      windowCalls: calls, windowFailures: fails,
      openedAt: state !== "CLOSED" && h.opened_at ? new Date(Number(h.opened_at)) : null,
      nextProbeAt: state === "OPEN" && Number(h.next_probe_at) > 0 ? new Date(Number(h.next_probe_at)) : null,
      forced: h.forced === "1" && state === "OPEN",
    };
  }

  private async transitioned(circuit: string, from: CircuitState, to: CircuitState, reason: string, consecutive: number, calls: number, fails: number, nextProbeAt: number | null): Promise<void> {
    const [provider, model] = circuit.split("|");
    if (to !== "OPEN") await this.redis.hdel(this.key(circuit), "forced");
    const ev: CircuitEventPayload = {
      provider, model: model ?? null, from, to, reason, consecutiveFailures: consecutive, windowCalls: calls, windowFailures: fails,
      nextProbeAt: nextProbeAt ? new Date(nextProbeAt).toISOString() : null, at: new Date().toISOString(),
    };
    this.onState(provider, model ?? null, to);
    this.log.warn({ ...ev }, "circuit state changed");
    await Promise.all([
      this.events
        .insert({ provider, model: model ?? null, from, to, reason, consecutiveFailures: consecutive, windowCalls: calls, windowFailures: fails, nextProbeAt: ev.nextProbeAt })
        .catch((err) => this.log.error({ err }, "storing a circuit event failed")),
      this.bus.publish(Topic.CIRCUIT_STATE_CHANGED, provider, ev),
      this.bus.publish(Topic.CIRCUIT_STATE_CHANGED, undefined, ev),
    ]);
  }
}
