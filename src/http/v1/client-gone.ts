/**
 * A /v1 client that leaves cancels its work: when the connection closes before the answer is
 * complete, each generation the request created is cancelled through the normal cancel path
 * (GenerationService.cancel: the reservation released, the CANCELLED event published, the
 * upstream call aborted). Not for background responses, which outlive their request by design.
 */
import { ConflictError } from "../../common/errors";
import type { CreateHooks } from "../../domain/generations/create-generation.command";
import type { V1Request } from "./route";

export interface ClientGone extends Required<Pick<CreateHooks, "onAdmitted">> {
  /** Also cancel this generation if the client leaves (or now, if it already left). */
  track(generationId: string): void;
  /** The answer is complete: a close from now on cancels nothing. */
  finish(): void;
  /** Whether the client left before the answer was complete. */
  readonly gone: boolean;
}

export function cancelWhenClientLeaves(r: Pick<V1Request, "res" | "services" | "viewer" | "log">): ClientGone {
  const ids = new Set<string>();
  let gone = false;
  let finished = false;
  const cancel = (id: string): void => {
    r.services.generations.cancel(r.viewer, id).then(
      () => r.log.info({ generationId: id }, "client closed the connection: generation cancelled"),
      // Already terminal (it finished as the client left): nothing to cancel.
      (err: unknown) => void (err instanceof ConflictError || r.log.warn({ err, generationId: id }, "cancelling the generation of a closed connection failed")),
    );
  };
  const onClose = (): void => {
    // A response that was completely written closes too (end of the exchange): not a client leaving.
    if (finished || r.res.writableFinished) return;
    gone = true;
    for (const id of ids) cancel(id);
  };
  r.res.once("close", onClose);
  const track = (id: string): void => {
    if (finished) return;
    ids.add(id);
    if (gone) cancel(id);
  };
  return {
    track,
    onAdmitted: track,
    finish() {
      finished = true;
      r.res.off("close", onClose);
    },
    get gone() {
      return gone;
    },
  };
}
