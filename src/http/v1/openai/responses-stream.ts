/**
 * A generation's events as the OpenAI Responses API's stream events (response.created,
 * response.queued, response.in_progress, response.output_item.added, response.content_part.added,
 * response.output_text.delta … response.completed / response.failed). Pure.
 *
 * `sequence_number` is derived from our gap-free per-generation `seq`: the events one generation
 * event becomes are numbered seq × SEQ_STRIDE + 0, 1, 2 … So the same event always carries the same
 * number, whether it was seen live or replayed, and `starting_after=N` names exactly the generation
 * event (N / SEQ_STRIDE) and how far into it the client got. Numbers grow but are not consecutive.
 *
 * A run that restarts after text went out (fallback mid-stream, a worker lost) is announced with
 * `switchboard.output_text.restarted`: the client discards the text of the content part so far;
 * the next deltas stream the new answer into the same part (the done events and the completed
 * response carry the final text, which the deltas after the last marker add up to).
 */
import type { GenerationEventType } from "../../../realtime/generation-event";
import { messageItem, messageItemId, outputText, responseObject, statusOf, type ResponseSource } from "./responses-object";

/** Response events per generation event, at most (the terminal event's done events and its function-call items). */
export const SEQ_STRIDE = 100;

export interface ResponseStreamEvent {
  type: string;
  sequence_number: number;
  [field: string]: unknown;
}

/** What the mapper reads of one generation event (live, or rebuilt from the stream log). */
export interface StreamInput {
  seq: number;
  type: GenerationEventType;
  delta?: string;
  generation: ResponseSource;
}

type Unnumbered = { type: string; [field: string]: unknown };

export class ResponsesStreamMapper {
  private created = false;
  private inProgress = false;
  private queued = false;
  private open = false;
  private text = "";
  private ended = false;

  constructor(private readonly generationId: string, private readonly background: boolean | null) {}

  /** After the terminal event's events: nothing more follows. */
  get done(): boolean {
    return this.ended;
  }

  /** The Responses events of one generation event (none for PROGRESS, RETRYING, FALLBACK …). */
  map(ev: StreamInput): ResponseStreamEvent[] {
    if (this.ended) return [];
    const out: Unnumbered[] = [];
    const g = ev.generation;
    if (!this.created) {
      this.created = true;
      out.push({ type: "response.created", response: responseObject(g, this.background, ev.type === "QUEUED" ? "queued" : "in_progress") });
    }
    switch (ev.type) {
      case "QUEUED":
        // Once, as OpenAI sends it: later QUEUED events (the queue position moved) have no Responses counterpart.
        if (!this.queued && !this.inProgress) out.push({ type: "response.queued", response: responseObject(g, this.background, "queued") });
        this.queued = true;
        break;
      case "STARTED":
      case "RESTARTED":
        this.startOnce(out, g);
        this.restart(out);
        break;
      case "DELTA":
        if (ev.delta) this.delta(out, g, ev.delta);
        break;
      case "SUCCEEDED":
        this.finish(out, g);
        break;
      case "FAILED":
      case "CANCELLED":
        this.ended = true;
        out.push({ type: ev.type === "FAILED" ? "response.failed" : "response.cancelled", response: responseObject(g, this.background, ev.type === "FAILED" ? "failed" : "cancelled") });
        break;
      default:
        break;
    }
    return out.slice(0, SEQ_STRIDE).map((e, j): ResponseStreamEvent => ({ ...e, sequence_number: ev.seq * SEQ_STRIDE + j }));
  }

  private startOnce(out: Unnumbered[], g: ResponseSource): void {
    if (this.inProgress) return;
    this.inProgress = true;
    out.push({ type: "response.in_progress", response: responseObject(g, this.background, "in_progress") });
  }

  private restart(out: Unnumbered[]): void {
    if (!this.text) return;
    this.text = "";
    out.push({ type: "switchboard.output_text.restarted", ...this.at(), message: "the run restarted; discard this content part's text, the new answer follows" });
  }

  private at() {
    return { item_id: messageItemId(this.generationId), output_index: 0, content_index: 0 };
  }

  private openItem(out: Unnumbered[], g: ResponseSource): void {
    this.startOnce(out, g);
    if (this.open) return;
    this.open = true;
    out.push({ type: "response.output_item.added", output_index: 0, item: messageItem(this.generationId, "", "in_progress") });
    out.push({ type: "response.content_part.added", ...this.at(), part: outputText("") });
  }

  private delta(out: Unnumbered[], g: ResponseSource, delta: string): void {
    this.openItem(out, g);
    this.text += delta;
    out.push({ type: "response.output_text.delta", ...this.at(), delta, logprobs: [] });
  }

  private finish(out: Unnumbered[], g: ResponseSource): void {
    this.startOnce(out, g);
    const final = g.output?.text ?? this.text;
    const calls = g.output?.toolCalls?.length ?? 0;
    if (final !== this.text) {
      // The stored answer is what counts (a cache hit streams nothing; a stream may differ from it).
      if (!final.startsWith(this.text)) this.restart(out);
      if (final.length > this.text.length) this.delta(out, g, final.slice(this.text.length));
    }
    if (final || !calls || this.open) {
      this.openItem(out, g); // an empty answer is still one message
      this.text = final;
      out.push({ type: "response.output_text.done", ...this.at(), text: final, logprobs: [] });
      out.push({ type: "response.content_part.done", ...this.at(), part: outputText(final) });
    }
    const response = responseObject(g, this.background);
    const items = response.output;
    items.forEach((item, i) => {
      if (item.type === "message") out.push({ type: "response.output_item.done", output_index: i, item });
      else out.push({ type: "response.output_item.added", output_index: i, item: { ...item, status: "in_progress" } }, { type: "response.output_item.done", output_index: i, item });
    });
    this.ended = true;
    out.push({ type: statusOf(g) === "incomplete" ? "response.incomplete" : "response.completed", response });
  }
}

/** One entry of the generation's stream log (EventBus.readStreamLog): mark 0 text reset, n > 0 text bytes after a DELTA, -1 terminal. */
export interface LogEntry {
  seq: number;
  mark: number;
}

/** Stands in for text a client already holds from a run since discarded (never sent: its events are at or before `after`). */
const HELD = "\u2026";

/**
 * The generation events up to the stream log's last seq, rebuilt for a stream resumed after
 * sequence number `after` (-1: from the start). Text events of the current text come back exactly
 * (the log's byte lengths cut the text); deltas of a run discarded since are needed only as state
 * (the client holds them: at or before `after`) or not at all (discarded before the client saw them).
 *
 * @param g - the generation as read after the log (its terminal state, output and tool calls).
 */
export function replayFromLog(log: readonly LogEntry[], text: Buffer, g: ResponseSource, after: number): StreamInput[] {
  const out: StreamInput[] = [];
  if (log[0]?.seq !== 1) out.push({ seq: 1, type: "QUEUED", generation: g });
  const terminal = g.status === "SUCCEEDED" || g.status === "FAILED" || g.status === "CANCELLED";
  if (!log.length) {
    // No log (Redis lost the stream, or its TTL passed): a finished generation is answered whole.
    if (terminal) out.push({ seq: 2, type: "STARTED", generation: g }, { seq: 3, type: g.status as "SUCCEEDED", generation: g });
    return out;
  }
  let lastReset = -1;
  log.forEach((e, i) => e.mark === 0 && (lastReset = i));
  let offset = 0;
  let started = false;
  log.forEach((e, i) => {
    if (e.mark === 0) {
      out.push({ seq: e.seq, type: started ? "RESTARTED" : "STARTED", generation: g });
      started = true;
      offset = 0;
    } else if (e.mark > 0) {
      if (i > lastReset) {
        out.push({ seq: e.seq, type: "DELTA", delta: text.subarray(offset, e.mark).toString("utf8"), generation: g });
        offset = e.mark;
      } else if (e.seq * SEQ_STRIDE <= after) out.push({ seq: e.seq, type: "DELTA", delta: HELD, generation: g });
    } else if (e.mark === -1 && terminal) out.push({ seq: e.seq, type: g.status as "SUCCEEDED", generation: g });
  });
  return out;
}
