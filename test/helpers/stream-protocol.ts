/**
 * The README's client protocol for `generationUpdated`, as a test reads it: a SNAPSHOT gives the
 * text streamed so far and its seq; later events count only above the seq held; RESTARTED
 * discards the partial text; DELTA appends.
 */
export const CREATE = `mutation($input: CreateGenerationInput!) { createGeneration(input: $input) { id status } }`;
export const SUB = `subscription($id: ID!) { generationUpdated(id: $id) { seq type delta text generation { status } } }`;

export interface Ev {
  seq: number;
  type: string;
  delta: string | null;
  text: string | null;
  generation: { status: string };
}

export const terminal = (e: { type: string }) => ["SUCCEEDED", "FAILED", "CANCELLED"].includes(e.type);

/** The text a client following the protocol ends up with. */
export function rebuild(events: Ev[]): string {
  let text = "";
  let seq = -1;
  for (const e of events) {
    if (e.type === "SNAPSHOT") {
      text = e.text ?? "";
      seq = e.seq;
      continue;
    }
    if (e.seq <= seq) continue;
    seq = e.seq;
    if (e.type === "RESTARTED") text = "";
    if (e.type === "DELTA") text += e.delta ?? "";
  }
  return text;
}

/** Polls `fn` until `ok` holds; the error names what was awaited and the last value. */
export async function until<T>(fn: () => T | Promise<T>, ok: (v: T) => boolean, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v).slice(0, 500)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
