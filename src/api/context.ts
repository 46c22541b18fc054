import type { Logger } from "../observability/logger";
import { UnauthenticatedError } from "../common/errors";
import type { Viewer } from "../domain/viewer";
import type { Services } from "./services";
import type { Loaders } from "./loaders/loaders";

export interface GraphQLContext {
  viewer: Viewer | null;
  requestId: string;
  services: Services;
  loaders: Loaders;
  log: Logger;
  /**
   * A lazy context's loaders if already made (WebSocket subscriptions make them on first use):
   * a new event need not make them just to empty them.
   */
  madeLoaders?: () => Loaders | undefined;
  /** Set when a key was presented but is unknown, revoked, expired or its user disabled. */
  authError?: string;
  /** That refusal in one word (UNAUTHENTICATED's `reason`): invalid, revoked, expired or disabled. */
  authRefusal?: string;
}

/** The authenticated viewer or UNAUTHENTICATED. */
export function viewerOf(ctx: GraphQLContext): Viewer {
  if (!ctx.viewer) throw new UnauthenticatedError(ctx.authError, ctx.authRefusal ? { reason: ctx.authRefusal } : {});
  return ctx.viewer;
}

/** Before a subscription's event resolves: empties its loaders (see Loaders.forEvent), without making them if none were made yet. */
export function loadersForEvent(ctx: GraphQLContext, ev: { generationId: string; seq: number; type: string }): void {
  (ctx.madeLoaders ? ctx.madeLoaders() : ctx.loaders)?.forEvent(ev);
}
