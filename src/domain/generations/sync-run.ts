/**
 * The fast sync path, one coherent thing (a run's slot, leases, start and hand-over, which share their state): a request that waits for its answer (createGeneration(wait), the /v1
 * endpoints) runs its own generation in this process when a local slot is free, through the
 * same runner a worker uses (claim, candidates, breakers, key pools, budget, cache, events),
 * instead of a round trip through the queue (enqueue, worker pickup, finish).
 *
 * What keeps an accepted request from being lost or charged twice: the row and its
 * reservation are committed by admission before anything runs (as on the queued path), and
 * before that commit this process takes the generation's slot, fairness lease and liveness lease
 * (in-process-runs.ts, pushed forward while the run lives) in one Redis round trip that goes on
 * while admission's first statements run (`prepare`). When they are held in time, the row is
 * admitted RUNNING with its first attempt open, in admission's own commit (bornRunning in
 * generation.store.ts: what the claim would have written), so the run needs no claim statement;
 * otherwise it is admitted QUEUED and claimed as a worker would. The generation has no job meanwhile (no enqueue,
 * pickup or finish in the queue). If the process dies, the lease lapses and the sweeper
 * re-enqueues the generation (it re-enqueues every QUEUED/RUNNING row without a job and
 * without a live lease); a worker's claim then takes the RUNNING row over exactly as it takes
 * over a dead worker's job: the lost attempt is closed uncharged (`worker_lost`), a fresh run
 * streams after RESTARTED, and every transition is conditional on (status, run_attempt), so
 * the dead run can never finish it too. The reservation is released once, by whichever run
 * ends it (the ledger's unique release entry). When the run hands the generation to the queue
 * (a retry, every key cooling down, an OPEN circuit, shutdown) its job is added first, then
 * the lease goes.
 *
 * Who takes the fast path: a generation that is not a coalesced follower (a follower has no
 * job of its own) and not LOW priority (LOW yields to queued work), while this process has
 * one of its SYNC_IN_PROCESS_SLOTS free and the user holds one of their USER_MAX_IN_FLIGHT
 * fairness leases (the same leases workers take, so the cap holds across both). Everything
 * else takes the queue. The slots are the API node's own: a fast-path run never takes a
 * worker's slot, so queued HIGH work is not delayed by it.
 */
import type { GenerationEntity, Priority } from "../../db/entities/generation.entity";
import type { Logger } from "../../observability/logger";
import type { UserFairness } from "../resilience/user-fairness";
import type { GenerationEvents } from "./generation-events";
import { queueAction, superseded, type RunJob, type RunOutcome } from "./run/outcome";
import type { Claim } from "./generation.store";
import type { InProcessRuns } from "./in-process-runs";
import { waitForTerminal } from "./terminal-waiter";

/** What the fast path needs from the job queue (jobs/queues.ts implements it on BullMQ). */
export interface SyncQueue {
  /** Adds the generation's job due in `delayMs`, `attemptsUsed` of its JOB_ATTEMPTS spent. */
  enqueueIn(generationId: string, priority: Priority, userId: string, delayMs: number, attemptsUsed: number): Promise<void>;
  /** A parked job of the user runs now (fairness); false when it is not delayed. */
  promote(generationId: string): Promise<boolean>;
}

/** The liveness leases (in-process-runs.ts). */
export type RunLeases = Pick<InProcessRuns, "hold" | "drop">;

export interface SyncRunConfig {
  /** Runs at once in this process (SYNC_IN_PROCESS_SLOTS). */
  slots: number;
  /** How long a lease outlives its last push (JOB_LOCK_MS, as a dead worker's job lock); pushed every half of it, ms. */
  leaseMs: number;
  /** Base of a retry's backoff when the provider gave no Retry-After (JOB_BACKOFF_MS), ms. */
  backoffMs: number;
  /** JOB_ATTEMPTS: the in-process run is the first; a retry hands the rest to the job. */
  attempts: number;
}

export interface SyncRunDeps {
  /** The GenerationRunner (run/runner.ts) the workers use: named by its one method, so this file does not import the run's graph. */
  runner: { run(job: RunJob): Promise<RunOutcome> };
  queue: SyncQueue;
  leases: RunLeases;
  events: Pick<GenerationEvents, "subscribe" | "onTerminal">;
  reload: (id: string) => Promise<GenerationEntity>;
  fairness?: UserFairness;
  cfg: SyncRunConfig;
  log: Logger;
}

/**
 * A fast-path run that holds its slot (and fairness lease). `run` publishes QUEUED (`first`), starts
 * it and waits up to `waitSeconds`; `start` publishes QUEUED, starts it and returns the QUEUED row at
 * once (the caller follows its events: a /v1 stream). `claimed`: the row was admitted RUNNING with
 * this claim (bornRunning), so the run makes none.
 */
export interface ReservedRun {
  run(waitSeconds: number, first: () => Promise<unknown>, claimed?: Claim): Promise<GenerationEntity>;
  start(first: () => Promise<unknown>, claimed?: Claim): Promise<GenerationEntity>;
}

/**
 * A fast-path run asked for before its generation is admitted (so the row can be admitted RUNNING:
 * no claim after): `granted` says whether this process holds the slot and the leases; `abandon`
 * gives them back when admission refused the request.
 */
export interface PreparedRun extends ReservedRun {
  granted: Promise<boolean>;
  abandon(): Promise<void>;
}

const SUPERSEDED = (superseded() as Extract<RunOutcome, { kind: "skipped" }>).reason;

export class SyncRun {
  private running = 0;
  /** The terminal row of each waiting in-process run, as its transition left it (no read after the run). */
  private readonly ended = new Map<string, (g: GenerationEntity) => void>();

  /** The runs in this process by generation id: what their run's terminal event starts (see execute). */
  private readonly releasing = new Map<string, () => void>();

  /** Every run in this process until it has ended (its afterRun): what a shutdown drains. */
  private readonly live = new Set<Promise<void>>();

  constructor(private readonly d: SyncRunDeps) {
    d.events.onTerminal((g, type) => {
      this.ended.get(g.id)?.(g);
      // A cancel (from any caller) is not the run's own end: the run still stops and releases as usual.
      if (type !== "CANCELLED") this.releasing.get(g.id)?.();
    });
  }

  /**
   * At shutdown (after the HTTP server stopped taking requests): the runs in this process get `graceMs` to end, as a
   * worker's jobs do; then `abort` stops their calls (the runner's abortAll) and each is handed to the queue. Nothing
   * an async request (ASYNC_IN_PROCESS) started here is left to a lapsing lease when the process stops cleanly.
   */
  async drain(graceMs: number, abort: () => number): Promise<void> {
    if (!this.live.size) return;
    const all = () => Promise.all([...this.live]);
    const grace = new Promise<"timeout">((r) => setTimeout(() => r("timeout"), graceMs).unref());
    if ((await Promise.race([all(), grace])) !== "timeout") return;
    this.d.log.warn({ handedBack: abort(), runs: this.live.size }, "shutdown grace period over: in-process runs handed to the queue");
    await all();
  }

  /** Runs in this process now, if they may (see the top comment); null: take the queue. */
  async reserve(gen: GenerationEntity): Promise<ReservedRun | null> {
    const run = this.prepare(gen);
    return run && (await run.granted) ? run : null;
  }

  /**
   * Takes a slot (synchronously) and the liveness and fairness leases (one round trip, auto-pipelined with
   * whatever else goes out meanwhile: the caller's QUEUED, or nothing while its admission runs); null when
   * the generation may not run here at all. The slot and the leases go back by themselves when `granted`
   * is false (the user is at their fairness cap, or Redis failed).
   */
  prepare(gen: GenerationEntity): PreparedRun | null {
    if (gen.groupId || gen.priority === "LOW" || gen.priority === "BATCH" || this.running >= this.d.cfg.slots) return null;
    this.running++;
    const fair = this.d.fairness?.enabled ? this.d.fairness : undefined;
    const held = this.hold(gen);
    let givenBack = false;
    const giveBack = async () => {
      if (givenBack) return;
      givenBack = true;
      this.running--;
      if (await held) await this.d.leases.drop(gen.id).catch(() => undefined); // it lapses by itself otherwise
    };
    const granted = (async () => {
      try {
        if (fair && !(await fair.acquire(gen.userId, gen.id))) return giveBack().then(() => false);
        return true;
      } catch (err) {
        this.d.log.warn({ err, generationId: gen.id }, "fairness lease for an in-process run failed; it takes the queue");
        return giveBack().then(() => false);
      }
    })();
    // Nothing ran: the slot and the leases go back (the sweeper enqueues the admitted row, if there is one).
    const abandon = async () => {
      if (!(await granted) || givenBack) return;
      await giveBack();
      if (fair) await this.releaseLease(fair, gen);
    };
    // A run whose QUEUED failed never starts: the slot and the leases go back and the caller hears the error.
    const begin = async (first: () => Promise<unknown>) => {
      try {
        await first();
      } catch (err) {
        await abandon();
        throw err;
      }
      return held;
    };
    // A row born RUNNING starts its run while its QUEUED and STARTED go out (the run's first command, its key lease, does not
    // wait a round trip for them; it makes no call and publishes nothing before they are out: Claim.started). If they fail,
    // the caller hears the error as above; the run, stopped before its call, gives its slot and leases back as any run does
    // and hands the generation to the queue.
    const publishedOf = (first: () => Promise<unknown>, claimed?: Claim) => (claimed?.started ? first() : undefined);
    return {
      granted,
      abandon,
      run: async (waitSeconds, first, claimed) => {
        const published = publishedOf(first, claimed);
        if (!published) return this.runAndWait(gen, fair, await begin(first), waitSeconds * 1000, claimed);
        const answer = this.runAndWait(gen, fair, await held, waitSeconds * 1000, claimed);
        answer.catch(() => undefined); // not unhandled if the publish fails first
        await published;
        return answer;
      },
      start: async (first, claimed) => {
        const published = publishedOf(first, claimed);
        void this.execute(gen, fair, published ? await held : await begin(first), claimed); // never throws; its slot is given back when it ends
        await published;
        return gen;
      },
    };
  }

  /**
   * Takes the liveness lease: from then on a death of this process is recovered by the sweeper once it lapses.
   * False when Redis is away: the run goes on anyway (the sweeper may re-enqueue it meanwhile; a worker's claim then supersedes this run).
   */
  private async hold(gen: GenerationEntity): Promise<boolean> {
    try {
      await this.d.leases.hold(gen.id, this.d.cfg.leaseMs);
      return true;
    } catch (err) {
      this.d.log.error({ err, generationId: gen.id }, "taking the lease of an in-process run failed");
      return false;
    }
  }

  private async runAndWait(gen: GenerationEntity, fair: UserFairness | undefined, leased: boolean, waitMs: number, claimed?: Claim): Promise<GenerationEntity> {
    const until = Date.now() + waitMs;
    let row: GenerationEntity | undefined;
    // The caller is answered as soon as the terminal transition has committed: its listener gets the row just before
    // the terminal event is sent, and has already sent the fairness release (the `releasing` hook, in the same
    // listener), so the caller's next request finds the slot free. The event's publish and the rest of the run's end
    // go on meanwhile; a terminal event whose publish fails is republished by the sweeper (lost-terminal-events.ts).
    let answered!: (a: { terminal: GenerationEntity }) => void;
    const terminal = new Promise<{ terminal: GenerationEntity }>((r) => (answered = r));
    this.ended.set(gen.id, (g) => {
      row = g;
      answered({ terminal: g });
    });
    const outcome = this.execute(gen, fair, leased, claimed);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), waitMs)));
    const first = await Promise.race([outcome, timedOut, terminal]);
    clearTimeout(timer);
    this.ended.delete(gen.id);
    if (first && typeof first === "object" && "terminal" in first) return first.terminal;
    // The caller's wait is over: the run goes on in this process (its slot held) and answers later subscribers.
    if (first === "timeout") return this.d.reload(gen.id);
    if (first && (first.kind === "finished" || (first.kind === "skipped" && first.reason !== SUPERSEDED))) return row ?? this.d.reload(gen.id);
    // Handed to the queue (or taken over, or the run broke): wait for the rest of `wait`, as a queued request does.
    return waitForTerminal(this.d.events, this.d.reload, gen.id, Math.max(0, until - Date.now()));
  }

  /** The run itself; never throws (a run that broke is handed to the queue, or recovered by the sweeper). Drain waits for it and what follows it. */
  private execute(gen: GenerationEntity, fair: UserFairness | undefined, leased: boolean, claimed?: Claim): Promise<RunOutcome | null> {
    const run = this.runOnce(gen, fair, leased, claimed);
    const whole = run.then((r) => r.after);
    this.live.add(whole);
    void whole.then(() => this.live.delete(whole));
    return run.then((r) => r.outcome);
  }

  /** `after`: what follows the run off the caller's path (afterRun), over when the slot is given back. */
  private async runOnce(gen: GenerationEntity, fair: UserFairness | undefined, leased: boolean, claimed?: Claim): Promise<{ outcome: RunOutcome | null; after: Promise<void> }> {
    const { leases, cfg, log } = this.d;
    let outcome: RunOutcome | null = null;
    let beat: NodeJS.Timeout | undefined;
    // The run's terminal event (told to listeners just before it is sent) gives the user's fairness slot back, takes their
    // oldest parked job off its list (releaseAndUnpark, as a worker does) and drops the liveness lease: those commands
    // go out in the same auto-pipelined write as the event, not in a round trip after it.
    const release = () => Promise.all([fair?.releaseAndUnpark(gen.userId, gen.id), leased ? leases.drop(gen.id) : undefined]);
    let early: ReturnType<typeof release> | undefined;
    this.releasing.set(gen.id, () => {
      early ??= release();
      early.catch(() => undefined); // awaited below
    });
    try {
      // The lease was taken before the claim (reserve); it is pushed forward while the run lives.
      if (leased) {
        beat = setInterval(() => void leases.hold(gen.id, cfg.leaseMs).catch(() => undefined), Math.max(50, Math.floor(cfg.leaseMs / 2)));
        beat.unref();
      }
      outcome = await this.d.runner.run({ generationId: gen.id, isLastAttempt: cfg.attempts <= 1, claimed });
    } catch (err) {
      log.error({ err, generationId: gen.id }, "in-process run failed; it goes to the queue");
    } finally {
      clearInterval(beat);
      this.releasing.delete(gen.id);
    }
    const ended = !!outcome && queueAction(outcome).kind === "complete";
    // The user's fairness slot is free before the caller hears the answer (as a worker frees it before its job completes);
    // a run that did not end the generation keeps its liveness lease until its job is in the queue (afterRun).
    const released = early ?? Promise.all([fair?.releaseAndUnpark(gen.userId, gen.id), ended && leased ? leases.drop(gen.id) : undefined]);
    const parked = await released.then(
      ([first]) => first,
      (err) => void log.warn({ err, generationId: gen.id }, "releasing an in-process run's leases failed (they expire by themselves)"),
    );
    // Off the caller's path: the user's parked job, and a run that did not end the generation goes to the queue.
    return { outcome, after: this.afterRun(gen, fair, outcome, leased && !ended, parked) };
  }

  /** `parked`: the job releaseAndUnpark took off the user's list (null: none); undefined when that failed (one is taken now). */
  private async afterRun(gen: GenerationEntity, fair: UserFairness | undefined, outcome: RunOutcome | null, leased: boolean, parked: string | null | undefined): Promise<void> {
    try {
      if (fair) await this.promoteParked(fair, gen, parked);
      await this.handOver(gen, outcome);
      if (leased) await this.d.leases.drop(gen.id);
    } catch (err) {
      // The lease lapses by itself; the sweeper then re-enqueues the generation if it still needs a run.
      this.d.log.warn({ err, generationId: gen.id }, "handing an in-process run to the queue failed; the sweeper recovers it");
    } finally {
      this.running--;
    }
  }

  /** A run that did not end the generation: its job goes to the queue (before the lease goes, so it is never without both). */
  private async handOver(gen: GenerationEntity, o: RunOutcome | null): Promise<void> {
    const action = o ? queueAction(o) : { kind: "delay" as const, delayMs: this.d.cfg.backoffMs };
    // Ended, cancelled, or another run owns it (the sweeper re-enqueued it): nothing to hand over.
    if (action.kind === "complete") return;
    // A retry spent one of the JOB_ATTEMPTS (as the job's first run would have; its backoff is that run's); a wait spent none.
    if (action.kind === "delay") return this.d.queue.enqueueIn(gen.id, gen.priority, gen.userId, action.delayMs, 0);
    const delayMs = Math.min(action.error.maxDelayMs ?? Infinity, action.error.delayMs ?? Math.round(Math.random() * this.d.cfg.backoffMs));
    await this.d.queue.enqueueIn(gen.id, gen.priority, gen.userId, delayMs, 1);
  }

  /** As a worker does when one of the user's runs ends: the user's oldest parked job runs (`first`: already taken off the list). */
  private async promoteParked(fair: UserFairness, gen: GenerationEntity, first?: string | null): Promise<void> {
    for (let id = first === undefined ? await fair.unpark(gen.userId) : first; id; id = await fair.unpark(gen.userId)) if (await this.d.queue.promote(id)) return;
  }

  /** Gives back the fairness lease of a run that never started. */
  private async releaseLease(fair: UserFairness, gen: GenerationEntity): Promise<void> {
    try {
      await fair.release(gen.userId, gen.id);
      await this.promoteParked(fair, gen);
    } catch (err) {
      this.d.log.warn({ err, generationId: gen.id }, "releasing an in-process run's fairness lease failed (it expires by itself)");
    }
  }
}
