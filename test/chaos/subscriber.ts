/**
 * A `generationUpdated(id)` subscriber that rebuilds the text by the README's protocol and
 * records every way the stream breaks it:
 *   start from a SNAPSHOT's text and seq; apply only events with a higher seq; DELTA appends,
 *   RESTARTED clears; the subscription ends after the terminal event (or a terminal SNAPSHOT).
 * After a reconnect the new SNAPSHOT replaces the state only when its seq is higher than the one
 * we have (a client drops anything at or below its seq). Within one subscription the live
 * events must follow the snapshot gap-free: snapshot.seq + 1, + 2, …
 */
import { createClient, type Client } from "graphql-ws";
import WebSocket from "ws";

export const SUB = `subscription($id: ID!) { generationUpdated(id: $id) { seq type delta text generation { status } } }`;
const TERMINAL = new Set(["SUCCEEDED", "FAILED", "CANCELLED"]);

interface Ev {
  seq: number;
  type: string;
  delta: string | null;
  text: string | null;
  generation: { status: string } | null;
}

/** A few graphql-ws sockets per API node, shared by the subscribers; a closed one is replaced. */
export class SocketPool {
  private readonly clients: { node: number; client: Client; closed: boolean }[][] = [];
  constructor(
    private readonly wsUrls: string[],
    private readonly apiKey: (user: number) => string,
    private readonly perNode: number,
  ) {}

  /** A live client on `node` for `user` (one pool slot per node, user and index). */
  client(node: number, user: number, slot: number): Client {
    const key = node * 1000 + user * 10 + (slot % this.perNode);
    const list = (this.clients[key] ??= []);
    const cur = list.at(-1);
    if (cur && !cur.closed) return cur.client;
    const entry = { node, client: undefined as unknown as Client, closed: false };
    entry.client = createClient({
      url: this.wsUrls[node],
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${this.apiKey(user)}` },
      lazy: true,
      lazyCloseTimeout: 60_000,
      retryAttempts: 0,
      on: { closed: () => (entry.closed = true) },
    });
    list.push(entry);
    return entry.client;
  }

  async dispose(): Promise<void> {
    for (const list of this.clients) for (const e of list ?? []) await Promise.resolve(e.client.dispose()).catch(() => undefined);
  }
}

export interface SubscriberResult {
  generationId: string;
  index: number;
  /** How the subscription ended: a terminal event, a terminal SNAPSHOT (after a reconnect), or not at all. */
  terminal: { type: string; via: "event" | "snapshot" } | null;
  text: string;
  lastSeq: number;
  sessions: number;
  violations: string[];
  /** The event log, compact: "node1 #3 SNAPSHOT(RUNNING)", "#4 DELTA", … (last 60 entries). */
  log: string[];
  /** When each violation was seen (ms since the run started), parallel to `violations`. */
  violationAt: number[];
}

/**
 * Set once the scenario has made Redis lose its data. From then on a seq may jump forward (a
 * counter Redis lost restarts above the highest seq that may have been published, which only the
 * running worker knows exactly): the README's contract is "never backwards, gap-free while Redis
 * keeps its data". Forward jumps are counted, not failed.
 */
export const redisLoss = { happened: false, forwardJumps: 0 };

export class Subscriber {
  private text = "";
  private lastSeq = -1;
  private sessionSnapshotSeq = -1;
  private prevInSession = -1;
  private sessions = 0;
  private terminal: SubscriberResult["terminal"] = null;
  private readonly violations: string[] = [];
  private readonly violationAt: number[] = [];
  private readonly log: string[] = [];
  private seenStarted = false;
  private stopped = false;
  private unsubscribe: () => void = () => undefined;
  private finished!: () => void;
  /** Resolves once the subscriber has its terminal state (or was stopped). */
  readonly done = new Promise<void>((r) => (this.finished = r));

  constructor(
    readonly generationId: string,
    readonly index: number,
    private readonly pool: SocketPool,
    private readonly user: number,
    private readonly pickNode: () => number,
    /** Milliseconds since the run started: stamps every violation, so a report can say which fault preceded it. */
    private readonly clock: () => number = () => 0,
  ) {}

  start(): void {
    if (this.stopped || this.terminal) return;
    const node = this.pickNode();
    const client = this.pool.client(node, this.user, this.index);
    let session = -1;
    this.unsubscribe = client.subscribe<{ generationUpdated: Ev }>({ query: SUB, variables: { id: this.generationId } }, {
      next: (v) => {
        if (v.errors?.length) this.note(`node${node + 1} subscription error: ${JSON.stringify(v.errors).slice(0, 300)}`);
        const ev = v.data?.generationUpdated;
        if (!ev) return;
        if (ev.type === "SNAPSHOT") session = ++this.sessions;
        this.onEvent(ev, node, session);
      },
      error: (e) => this.reconnect(`node${node + 1} error: ${describeError(e)}`),
      complete: () => {
        if (!this.terminal) this.reconnect(`node${node + 1}: subscription completed without a terminal event`);
      },
    });
  }

  private reconnect(why: string) {
    if (this.stopped || this.terminal) return;
    this.log.push(`(reconnect: ${why})`);
    setTimeout(() => this.start(), 200 + Math.floor(Math.random() * 300)).unref();
  }

  private violate(msg: string) {
    this.violations.push(msg);
    this.violationAt.push(this.clock());
  }

  private note(msg: string) {
    this.log.push(msg);
  }

  private onEvent(ev: Ev, node: number, session: number) {
    const label = `${ev.type === "SNAPSHOT" ? `node${node + 1} ` : ""}#${ev.seq} ${ev.type}${ev.type === "SNAPSHOT" ? `(${ev.generation?.status})` : ""}`;
    this.log.push(label);
    if (this.log.length > 80) this.log.splice(0, this.log.length - 60);
    if (ev.type === "SNAPSHOT") {
      this.sessionSnapshotSeq = ev.seq;
      this.prevInSession = ev.seq;
      if (ev.seq > this.lastSeq) {
        this.text = ev.text ?? "";
        this.lastSeq = ev.seq;
      } else if (ev.seq === this.lastSeq) {
        if ((ev.text ?? "") !== this.text && !TERMINAL.has(ev.generation?.status ?? "")) {
          this.violate(`reconnect #${session}: SNAPSHOT at seq ${ev.seq} has text ${JSON.stringify(clip(ev.text ?? ""))}, the stream so far rebuilt ${JSON.stringify(clip(this.text))}`);
        }
      } else {
        this.violate(`seq went backwards: had seq ${this.lastSeq}, reconnect #${session}'s SNAPSHOT has seq ${ev.seq} (${ev.generation?.status})`);
      }
      if (TERMINAL.has(ev.generation?.status ?? "")) {
        // A terminal snapshot carries the final text: the protocol's answer is the snapshot.
        this.text = ev.text ?? "";
        this.finish({ type: ev.generation!.status, via: "snapshot" });
      }
      return;
    }
    if (session < 0) {
      this.violate(`event #${ev.seq} ${ev.type} arrived before the subscription's SNAPSHOT`);
      return;
    }
    if (ev.seq > this.prevInSession + 1 && redisLoss.happened) redisLoss.forwardJumps++;
    else if (ev.seq !== this.prevInSession + 1) {
      this.violate(`seq gap in subscription #${session}: after #${this.prevInSession} came #${ev.seq} ${ev.type} (snapshot was #${this.sessionSnapshotSeq})`);
    }
    this.prevInSession = Math.max(this.prevInSession, ev.seq);
    if (ev.type === "STARTED") this.seenStarted = true;
    if (ev.type === "QUEUED" && this.seenStarted) this.violate(`events out of state order: QUEUED #${ev.seq} after STARTED`);
    if (ev.seq <= this.lastSeq) return; // already have it (the protocol drops it)
    this.lastSeq = ev.seq;
    if (ev.type === "DELTA") this.text += ev.delta ?? "";
    else if (ev.type === "RESTARTED") this.text = "";
    if (TERMINAL.has(ev.type)) {
      if (ev.generation && ev.generation.status !== ev.type) this.violate(`terminal event ${ev.type} #${ev.seq} carries generation.status ${ev.generation.status}`);
      this.finish({ type: ev.type, via: "event" });
    }
  }

  private finish(t: NonNullable<SubscriberResult["terminal"]>) {
    if (this.terminal) return;
    this.terminal = t;
    this.unsubscribe();
    this.finished();
  }

  /** Gives up on a subscriber that never saw its terminal state. */
  stop(): void {
    this.stopped = true;
    this.unsubscribe();
    this.finished();
  }

  result(): SubscriberResult {
    return {
      generationId: this.generationId, index: this.index, terminal: this.terminal, text: this.text, lastSeq: this.lastSeq,
      sessions: this.sessions, violations: [...this.violations], log: this.log.slice(-60), violationAt: [...this.violationAt],
    };
  }
}

function clip(s: string, n = 80): string {
  return s.length <= n ? s : `${s.slice(0, n)}…(${s.length} chars)`;
}

function describeError(e: unknown): string {
  if (e && typeof e === "object" && "code" in e) return `socket closed ${(e as { code: number }).code} ${(e as { reason?: string }).reason ?? ""}`.trim();
  if (Array.isArray(e)) return JSON.stringify(e).slice(0, 300);
  return String((e as Error)?.message ?? e).slice(0, 300);
}
