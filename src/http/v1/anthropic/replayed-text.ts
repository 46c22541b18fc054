/**
 * What of a generation's streamed text a client has not been sent yet, across restarts.
 *
 * A generation's text can start over (RESTARTED: a broken upstream stream retried or fallen back,
 * a worker taken over, Redis's stream state lost and re-sent in one delta; STARTED of a new run).
 * An Anthropic stream has no way to take back text, so after a restart the new text is compared
 * with what was sent: while it repeats it nothing goes out, past it only the new part does, and
 * when it differs the stream cannot go on honestly ({@link push} returns null: the caller ends it
 * with an error event). A deterministic replay (the same model again, a lost Redis stream) is thus
 * invisible to the client, with nothing duplicated.
 */
export class ReplayedText {
  /** Everything the client was sent. */
  private sent = "";
  /** Length of the restarted run's text while it is still within `sent`; null when not replaying. */
  private replayed: number | null = null;

  /** The generation's text starts over. */
  restart(): void {
    if (this.sent) this.replayed = 0;
  }

  /** The part of `delta` to send ("" while a restart repeats what was sent), or null when the restarted text differs. */
  push(delta: string): string | null {
    if (this.replayed === null) {
      this.sent += delta;
      return delta;
    }
    const at = this.replayed;
    const overlap = Math.min(delta.length, this.sent.length - at);
    if (delta.slice(0, overlap) !== this.sent.slice(at, at + overlap)) return null;
    this.replayed += delta.length;
    if (this.replayed < this.sent.length) return "";
    const fresh = delta.slice(overlap);
    this.sent += fresh;
    this.replayed = null;
    return fresh;
  }

  /** At the end: false when a restart stopped short of the text the client already has. */
  complete(): boolean {
    return this.replayed === null;
  }
}
