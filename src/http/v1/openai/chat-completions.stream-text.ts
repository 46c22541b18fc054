/**
 * What a streaming client has been sent, kept consistent with the generation's text across
 * RESTARTED events (a fallback or retry mid-stream, or Redis losing the stream's state). Pure.
 *
 * The choice (issue 16): deltas go out as they come (no added time to first token); after a
 * RESTARTED, the new attempt's text is held back while it repeats what the client already has,
 * and only what goes past it is sent, so nothing is ever duplicated when the new attempt says the
 * same thing (a replay after Redis lost the stream, a retry of the same model). When the new
 * attempt's text departs from what was sent (another model's answer), one restart marker goes out
 * — a chunk with an empty delta and `"switchboard":{"restart":true}` — meaning "drop the text so
 * far", then the new attempt's text from its start. At the end the client's text is checked
 * against the generation's final output.text the same way, so a client that honours the marker
 * always ends with exactly output.text.
 */

/** What to write for one step: text to send, after a restart marker when `restart`. */
export interface Emit {
  restart: boolean;
  text: string;
}

const NOTHING: Emit = { restart: false, text: "" };

export class StreamText {
  /** The text the client holds (since the last restart marker). */
  private sent = "";
  /** The current attempt's text, while it is being compared with `sent` after a RESTARTED. */
  private attempt: string | null = null;

  /** The client's text. */
  get text(): string {
    return this.sent;
  }

  /** A SNAPSHOT's text (what had streamed before this client subscribed). */
  snapshot(text: string): Emit {
    return this.toward(text);
  }

  delta(d: string): Emit {
    if (!d) return NOTHING;
    if (this.attempt === null) {
      this.sent += d;
      return { restart: false, text: d };
    }
    this.attempt += d;
    if (this.sent.startsWith(this.attempt)) return NOTHING; // still repeating what the client has
    const target = this.attempt;
    this.attempt = null;
    return this.toward(target);
  }

  /** RESTARTED: the next deltas are a new attempt's text from its start. */
  restart(): void {
    this.attempt = "";
  }

  /** The generation's final text: whatever the client still lacks, or a restart when it holds something else. */
  finish(finalText: string): Emit {
    this.attempt = null;
    return this.toward(finalText);
  }

  private toward(target: string): Emit {
    if (target === this.sent) return NOTHING;
    if (target.startsWith(this.sent)) {
      const text = target.slice(this.sent.length);
      this.sent = target;
      return { restart: false, text };
    }
    this.sent = target;
    return { restart: true, text: target };
  }
}
